"""Lead lists, their rows, per-node results and runs.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "lead_lists",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("source", sa.Text, nullable=True),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "leads",
        sa.Column("lead_list", sa.String(64), primary_key=True),
        sa.Column("row_id", sa.String(160), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("fields", sa.JSON, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.ForeignKeyConstraint(["lead_list"], ["lead_lists.name"], ondelete="CASCADE"),
    )
    op.create_table(
        "node_results",
        sa.Column("lead_list", sa.String(64), primary_key=True),
        sa.Column("row_id", sa.String(160), primary_key=True),
        sa.Column("workflow", sa.String(64), primary_key=True),
        sa.Column("node", sa.String(64), primary_key=True),
        sa.Column("node_index", sa.Integer, nullable=False),
        sa.Column("status", sa.String(8), nullable=False),
        sa.Column("outputs", sa.JSON, nullable=True),
        sa.Column("error", sa.Text, nullable=True),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("started_at", TS, nullable=True),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("duration_s", sa.Float, nullable=True),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("provider", sa.String(64), nullable=True),
        sa.ForeignKeyConstraint(
            ["lead_list", "row_id"], ["leads.lead_list", "leads.row_id"], ondelete="CASCADE"
        ),
    )
    op.create_table(
        "runs",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("dagster_run_id", sa.String(64), nullable=True),
        sa.Column("lead_list", sa.String(64), nullable=False),
        sa.Column("workflow", sa.String(64), nullable=False),
        sa.Column("params", sa.JSON, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("ok", sa.Integer, nullable=False),
        sa.Column("failed", sa.Integer, nullable=False),
        sa.Column("skipped", sa.Integer, nullable=False),
        sa.Column("cost", sa.Float, nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("finished_at", TS, nullable=True),
        sa.Column("message", sa.Text, nullable=True),
    )


def downgrade() -> None:
    op.drop_table("runs")
    op.drop_table("node_results")
    op.drop_table("leads")
    op.drop_table("lead_lists")
