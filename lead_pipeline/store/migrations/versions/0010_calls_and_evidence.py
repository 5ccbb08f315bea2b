"""Node results keep the provider calls they made and a research node's evidence.

Revision ID: 0010
Revises: 0009

Columns of the result rather than tables of their own: a result's upsert replaces them
with it, so only the latest result's calls and evidence are kept (bounded), and the
existing cascade removes them with a pruned row. Results written before have none.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("node_results") as batch:
        batch.add_column(sa.Column("calls", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("evidence", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("unsupported", sa.Integer(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("node_results") as batch:
        batch.drop_column("unsupported")
        batch.drop_column("evidence")
        batch.drop_column("calls")
