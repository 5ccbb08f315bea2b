"""CRM records: the CRM's id and the hash of what was last sent, per lead list and key.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "crm_records",
        sa.Column("lead_list", sa.String(64), primary_key=True),
        sa.Column("crm", sa.String(32), primary_key=True),
        sa.Column("object_type", sa.String(32), primary_key=True),
        sa.Column("key", sa.String(320), primary_key=True),
        sa.Column("row_id", sa.String(255), nullable=False),
        sa.Column("crm_id", sa.String(64), nullable=False),
        sa.Column("synced_hash", sa.String(64), nullable=False),
        sa.Column("synced_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("crm_records")
