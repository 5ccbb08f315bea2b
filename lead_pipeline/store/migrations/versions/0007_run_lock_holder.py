"""Run locks record the process that launched their run (host, pid, start time).

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("run_locks") as batch:
        batch.add_column(sa.Column("holder", sa.String(200), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("run_locks") as batch:
        batch.drop_column("holder")
