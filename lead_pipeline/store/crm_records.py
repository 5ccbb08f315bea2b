"""What was last sent to a CRM, so a sync sends only what changed and updates, not duplicates."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select

from lead_pipeline.store.records import CrmRecord
from lead_pipeline.store.schema import crm_records
from lead_pipeline.store.shared import StorePart, utcnow


class CrmRecords(StorePart):
    """(object type, key) -> the CRM's id and the hash of what was sent, per list and CRM."""

    def crm_state(self, name: str, crm: str) -> dict[tuple[str, str], CrmRecord]:
        """(object type, key) -> the record last synced for list ``name`` to ``crm``."""
        with self._reading() as conn:
            found = conn.execute(
                select(crm_records).where(crm_records.c.lead_list == name, crm_records.c.crm == crm)
            )
            return {
                (r.object_type, r.key): CrmRecord(
                    r.object_type, r.key, r.row_id, r.crm_id, r.synced_hash
                )
                for r in found
            }

    def record_crm_sync(self, name: str, crm: str, records: Sequence[CrmRecord]) -> None:
        """Remember what was sent and the CRM's ids, in one transaction."""
        if not records:
            return
        now = utcnow()
        stmt = self._insert(crm_records).values(
            [
                {
                    "lead_list": name,
                    "crm": crm,
                    "object_type": r.object_type,
                    "key": r.key,
                    "row_id": r.row_id,
                    "crm_id": r.crm_id,
                    "synced_hash": r.synced_hash,
                    "synced_at": now,
                }
                for r in records
            ]
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["lead_list", "crm", "object_type", "key"],
            set_={
                "row_id": stmt.excluded.row_id,
                "crm_id": stmt.excluded.crm_id,
                "synced_hash": stmt.excluded.synced_hash,
                "synced_at": stmt.excluded.synced_at,
            },
        )
        with self.engine.begin() as conn:
            conn.execute(stmt)
