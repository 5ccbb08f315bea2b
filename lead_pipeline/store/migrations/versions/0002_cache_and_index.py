"""Provider response cache, and an index for per-workflow status counts.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "response_cache",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(64), nullable=False),
        sa.Column("response", sa.JSON, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_node_results_workflow", "node_results", ["lead_list", "workflow", "status"]
    )


def downgrade() -> None:
    op.drop_index("ix_node_results_workflow", table_name="node_results")
    op.drop_table("response_cache")
