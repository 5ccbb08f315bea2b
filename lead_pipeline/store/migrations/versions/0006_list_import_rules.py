"""Lead lists remember how they were imported: the field mapping and the id rule.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Nullable: lists imported before this revision learn theirs at their next import.
    with op.batch_alter_table("lead_lists") as batch:
        batch.add_column(sa.Column("field_map", sa.JSON, nullable=True))
        batch.add_column(sa.Column("id_rule", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("lead_lists") as batch:
        batch.drop_column("id_rule")
        batch.drop_column("field_map")
