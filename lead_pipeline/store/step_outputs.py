"""Values passed between Dagster steps, kept in the database the steps already share.

Steps on other machines then need nothing in common but the lead store; the IO
manager (``defs/io_manager.py``) pickles and unpickles, this only keeps bytes.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, delete, select

from lead_pipeline.store.schema import step_outputs
from lead_pipeline.store.shared import StorePart, utcnow


class StepOutputs(StorePart):
    """Bytes by (run, step, output name), dropped once their runs are old."""

    def put_step_output(self, run_id: str, step_key: str, name: str, value: bytes) -> None:
        stmt = self._insert(step_outputs).values(
            run_id=run_id, step_key=step_key, name=name, value=value, created_at=utcnow()
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["run_id", "step_key", "name"],
            set_={"value": stmt.excluded.value, "created_at": stmt.excluded.created_at},
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)

    def get_step_output(self, run_id: str, step_key: str, name: str) -> bytes:
        with self._reading() as conn:
            row = conn.execute(
                select(step_outputs.c.value).where(
                    and_(
                        step_outputs.c.run_id == run_id,
                        step_outputs.c.step_key == step_key,
                        step_outputs.c.name == name,
                    )
                )
            ).first()
        if row is None:
            raise KeyError(f"no stored output {name!r} of step {step_key!r} in run {run_id}")
        return row.value

    def prune_step_outputs(self, before: datetime) -> int:
        """Drop intermediate values of old runs; re-execution of those runs then re-selects."""
        with self.engine.begin() as conn:
            return conn.execute(
                delete(step_outputs).where(step_outputs.c.created_at < before)
            ).rowcount
