"""Lead lists and their rows: import, read in order, and the list's field mapping.

An import is one transaction: the list's rules, new and changed rows, and (when
pruning) the rows that left the file together with their results, so a killed
import leaves the list as it was.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from typing import Any

from sqlalchemy import and_, delete, func, select, update

from lead_pipeline.store.names import check_name
from lead_pipeline.store.records import ImportReport, LeadListInfo, LeadRow
from lead_pipeline.store.schema import lead_lists, leads, node_results
from lead_pipeline.store.shared import StorePart, aware, utcnow

_INSERT_CHUNK = 1000  # new rows written per INSERT while an import streams


class UnknownLeadListError(LookupError):
    """A lead list that was never imported."""


def fields_digest(fields: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


class LeadLists(StorePart):
    """Lead lists, their rows in import order, and how their columns map to lead fields."""

    def lists(self) -> list[LeadListInfo]:
        counts = (
            select(leads.c.lead_list, func.count().label("n"))
            .group_by(leads.c.lead_list)
            .subquery()
        )
        query = (
            select(lead_lists, func.coalesce(counts.c.n, 0))
            .outerjoin(counts, counts.c.lead_list == lead_lists.c.name)
            .order_by(lead_lists.c.name)
        )
        with self._reading() as conn:
            return [_list_info(r, r[-1]) for r in conn.execute(query)]

    def list_info(self, name: str) -> LeadListInfo | None:
        """One list's row count and import rules; None when it was never imported."""
        check_name(name)
        count = select(func.count()).select_from(leads).where(leads.c.lead_list == name)
        with self._reading() as conn:
            row = conn.execute(
                select(lead_lists, count.scalar_subquery()).where(lead_lists.c.name == name)
            ).first()
        return None if row is None else _list_info(row, row[-1])

    def has_list(self, name: str) -> bool:
        check_name(name)
        with self._reading() as conn:
            found = conn.execute(select(lead_lists.c.name).where(lead_lists.c.name == name))
            return found.first() is not None

    def require_list(self, name: str) -> None:
        if not self.has_list(name):
            known = ", ".join(info.name for info in self.lists()) or "none yet"
            raise UnknownLeadListError(
                f"lead list {name!r} does not exist (known: {known}); "
                f"import it first with: lead-pipeline import PATH --lead {name}"
            )

    def import_rows(
        self,
        name: str,
        rows: Iterable[tuple[str, dict[str, Any]]],
        *,
        source: str | None = None,
        prune: bool = False,
        field_map: dict[str, Any] | None = None,
        id_rule: str | None = None,
    ) -> ImportReport:
        """Upsert a whole file's rows in one transaction.

        ``rows`` may be a generator (a CRM import streams 100,000 records from a
        staging file): it is read once, and new rows are written in chunks, so
        only their ids and digests are held.

        Results live in another table, so re-importing never touches enrichment;
        rows absent from the file stay unless ``prune`` is asked for. The field
        mapping and id rule, when given, are stored with the list in the same
        transaction (the importer decides them; the store only keeps them). A
        new mapping changes what every row's canonical fields read, so it
        stamps every row as updated, as if its fields had changed (selection
        trusts rows older than their results: ``settled.py``).
        """
        check_name(name)
        report = ImportReport(lead_list=name, source=source, field_map=field_map, id_rule=id_rule)
        now = utcnow()
        rules: dict[str, Any] = {}
        if field_map is not None:
            rules["field_map"] = field_map
        if id_rule is not None:
            rules["id_rule"] = id_rule
        with self.engine.begin() as conn:
            exists = conn.execute(
                select(lead_lists.c.name, lead_lists.c.field_map).where(lead_lists.c.name == name)
            ).first()
            remapped = (
                exists is not None
                and field_map is not None
                and fields_digest(exists.field_map or {}) != fields_digest(field_map)
            )
            if remapped:
                conn.execute(update(leads).where(leads.c.lead_list == name).values(updated_at=now))
            if exists:
                conn.execute(
                    update(lead_lists)
                    .where(lead_lists.c.name == name)
                    .values(updated_at=now, source=source, **rules)
                )
            else:
                conn.execute(
                    lead_lists.insert().values(
                        name=name, source=source, created_at=now, updated_at=now, **rules
                    )
                )
            existing = {
                r.row_id: (r.position, fields_digest(r.fields))
                for r in conn.execute(
                    select(leads.c.row_id, leads.c.position, leads.c.fields).where(
                        leads.c.lead_list == name
                    )
                )
            }
            next_position = max((p for p, _ in existing.values()), default=-1) + 1
            new_rows: list[dict[str, Any]] = []
            keep: set[str] = set()
            for row_id, fields in rows:
                keep.add(row_id)
                if len(new_rows) >= _INSERT_CHUNK:
                    conn.execute(leads.insert(), new_rows)
                    new_rows = []
                if row_id not in existing:
                    new_rows.append(
                        {
                            "lead_list": name,
                            "row_id": row_id,
                            "position": next_position,
                            "fields": fields,
                            "created_at": now,
                            "updated_at": now,
                        }
                    )
                    next_position += 1
                    report.added += 1
                elif existing[row_id][1] != fields_digest(fields):
                    conn.execute(
                        update(leads)
                        .where(and_(leads.c.lead_list == name, leads.c.row_id == row_id))
                        .values(fields=fields, updated_at=now)
                    )
                    report.updated += 1
                else:
                    report.unchanged += 1
            if new_rows:
                conn.execute(leads.insert(), new_rows)
            if prune:
                gone = [row_id for row_id in existing if row_id not in keep]
                for start in range(0, len(gone), 500):
                    chunk = gone[start : start + 500]
                    conn.execute(
                        delete(node_results).where(
                            and_(
                                node_results.c.lead_list == name,
                                node_results.c.row_id.in_(chunk),
                            )
                        )
                    )
                    conn.execute(
                        delete(leads).where(
                            and_(leads.c.lead_list == name, leads.c.row_id.in_(chunk))
                        )
                    )
                report.pruned = len(gone)
        return report

    def rows(self, name: str, row_ids: Iterable[str] | None = None) -> list[LeadRow]:
        """Rows in import order; ``row_ids`` narrows to a shard."""
        check_name(name)
        query = select(leads.c.row_id, leads.c.position, leads.c.fields).where(
            leads.c.lead_list == name
        )
        wanted = None if row_ids is None else list(row_ids)
        with self._reading() as conn:
            if wanted is None:
                result = list(conn.execute(query.order_by(leads.c.position)))
            else:
                result = []
                for start in range(0, len(wanted), 500):
                    chunk = wanted[start : start + 500]
                    result.extend(conn.execute(query.where(leads.c.row_id.in_(chunk))))
                result.sort(key=lambda r: r.position)
        return [LeadRow(row_id=r.row_id, position=r.position, fields=r.fields) for r in result]

    def row_count(self, name: str) -> int:
        with self._reading() as conn:
            return conn.execute(
                select(func.count()).select_from(leads).where(leads.c.lead_list == name)
            ).scalar_one()

    def mapped_rows(self, name: str, row_ids: Iterable[str] | None = None) -> list[LeadRow]:
        """Rows with the list's canonical fields added to the imported columns (no outputs):
        what the engine hashes and hands to nodes, with the same mapping as ``row_values``."""
        canonical, columns = self.field_mapping(name)
        return [
            LeadRow(
                row_id=r.row_id,
                position=r.position,
                fields={
                    **r.fields,
                    **{
                        field: r.fields.get(columns[field]) if field in columns else None
                        for field in canonical
                    },
                },
            )
            for r in self.rows(name, row_ids)
        ]

    def field_mapping(self, name: str) -> tuple[list[str], dict[str, str]]:
        """(every canonical field, field -> imported column) from the list's field mapping.

        An unmapped field is None. A list imported before mappings were stored
        has none: its rows are read as they are until its next import.
        """
        with self._reading() as conn:
            stored = conn.execute(
                select(lead_lists.c.field_map).where(lead_lists.c.name == name)
            ).scalar()
        stored = stored or {}
        return list(stored.get("fields") or []), dict(stored.get("columns") or {})


def _list_info(row: Any, count: int) -> LeadListInfo:
    return LeadListInfo(
        name=row.name,
        rows=count,
        source=row.source,
        updated_at=aware(row.updated_at),
        field_map=row.field_map,
        id_rule=row.id_rule,
    )
