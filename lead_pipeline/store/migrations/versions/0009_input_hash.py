"""Node results record a hash of exactly the inputs they were computed from.

Revision ID: 0009
Revises: 0008

A result is stale when the hash of what its node would read now differs. Results
written before this column existed have no hash (NULL) and are trusted as they
are until their node next runs, so upgrading re-runs nothing by itself.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("node_results") as batch:
        batch.add_column(sa.Column("input_hash", sa.String(64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("node_results") as batch:
        batch.drop_column("input_hash")
