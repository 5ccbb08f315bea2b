"""LLM batches and the questions each holds until it is collected (``--lane batch``).

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "llm_batches",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("provider", sa.String(16), nullable=False),
        sa.Column("batch_id", sa.String(128), nullable=True),
        sa.Column("lead_list", sa.String(64), nullable=False),
        sa.Column("workflow", sa.String(64), nullable=False),
        sa.Column("model", sa.String(128), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("status", sa.String(32), nullable=True),
        sa.Column("rows", sa.Integer, nullable=False),
        sa.Column("counts", sa.JSON, nullable=True),
        sa.Column("price", sa.Float, nullable=False),
        sa.Column("run_key", sa.String(128), nullable=True),
        sa.Column("submitted_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("collected_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_llm_batches_list", "llm_batches", ["lead_list", "state"])
    op.create_table(
        "llm_batch_requests",
        sa.Column("batch_key", sa.String(64), primary_key=True),
        sa.Column("custom_id", sa.String(64), primary_key=True),
        sa.Column("lead_list", sa.String(64), nullable=False),
        sa.Column("row_id", sa.String(160), nullable=False),
        sa.Column("workflow", sa.String(64), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("node_index", sa.Integer, nullable=False),
        sa.Column("config_hash", sa.String(64), nullable=False),
        sa.Column("input_hash", sa.String(64), nullable=False),
        sa.Column("question", sa.JSON, nullable=False),
        sa.ForeignKeyConstraint(["batch_key"], ["llm_batches.key"], ondelete="CASCADE"),
    )
    op.create_index(
        "ix_llm_batch_requests_row", "llm_batch_requests", ["lead_list", "workflow", "row_id"]
    )


def downgrade() -> None:
    op.drop_table("llm_batch_requests")
    op.drop_table("llm_batches")
