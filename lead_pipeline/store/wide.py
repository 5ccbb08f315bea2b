"""What nodes and exports see of a list: rows with their canonical fields and ok outputs.

Within a workflow a later node's ok output replaces an earlier one's, and an
output is never hidden by an imported column of the same name: an export always
shows what the pipeline decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, and_, select

from lead_pipeline.store.lists import LeadLists
from lead_pipeline.store.records import ID_COLUMN, OK
from lead_pipeline.store.schema import leads, node_results
from lead_pipeline.store.shared import StorePart

if TYPE_CHECKING:  # pandas loads with the first frame, not with the store
    import pandas as pd

IMPORTED_PREFIX = "imported_"


def imported_name(column: str, outputs: Iterable[str]) -> str:
    """The name an imported column goes by: its own, or ``imported_<name>`` beside an output.

    Repeated until free, so an imported ``is_b2b`` beside an imported
    ``imported_is_b2b`` cannot collide either.
    """
    taken = set(outputs)
    while column in taken:
        column = IMPORTED_PREFIX + column
    return column


class WideView(StorePart):
    """Rows merged with their ok outputs: the values nodes read and the wide table."""

    def __init__(self, engine: Engine, lists: LeadLists) -> None:
        super().__init__(engine)
        self.lists = lists

    def _enrichment(
        self, name: str, row_ids: Sequence[str] | None = None
    ) -> tuple[dict[str, dict[str, Any]], list[str]]:
        """Every row's ok outputs merged in node order, and the output columns seen.

        Within a workflow a later node's ok output replaces an earlier one's (the
        cascade pattern: a model refines a rule's answer); two workflows never
        write the same column, which the workflow loader enforces.
        """
        query = (
            select(node_results.c.row_id, node_results.c.outputs)
            .where(and_(node_results.c.lead_list == name, node_results.c.status == OK))
            .order_by(node_results.c.workflow, node_results.c.node_index)
        )
        if row_ids is not None and len(row_ids) <= 500:
            query = query.where(node_results.c.row_id.in_(list(row_ids)))
        outputs: dict[str, dict[str, Any]] = {}
        columns: dict[str, None] = {}
        with self._reading() as conn:
            for r in conn.execute(query):
                for key, value in (r.outputs or {}).items():
                    outputs.setdefault(r.row_id, {})[key] = value
                    columns.setdefault(key, None)
        return outputs, list(columns)

    def preview_rows(
        self, name: str, workflow: str, outputs: Sequence[str], limit: int
    ) -> list[dict[str, Any]]:
        """The first ``limit`` rows in import order with a value in one of ``outputs``:
        each row's imported fields and ``workflow``'s ok outputs (later nodes' last).

        Read in import order and stopped as soon as ``limit`` rows are found, so a
        run's closing preview costs ten rows, not the wide frame of the whole list.
        """
        wanted = set(outputs)
        query = (
            select(leads.c.row_id, leads.c.fields, node_results.c.outputs)
            .join(
                leads,
                and_(
                    leads.c.lead_list == node_results.c.lead_list,
                    leads.c.row_id == node_results.c.row_id,
                ),
            )
            .where(
                and_(
                    node_results.c.lead_list == name,
                    node_results.c.workflow == workflow,
                    node_results.c.status == OK,
                )
            )
            .order_by(leads.c.position, node_results.c.node_index)
        )
        found: list[dict[str, Any]] = []
        current: dict[str, Any] | None = None

        def keep(row: dict[str, Any] | None) -> None:
            if row is not None and any(row.get(c) is not None for c in wanted):
                found.append(row)

        with self._reading() as conn:
            for r in conn.execution_options(yield_per=200).execute(query):
                if current is None or current[ID_COLUMN] != r.row_id:
                    keep(current)
                    if len(found) >= limit:
                        break
                    current = {**r.fields, ID_COLUMN: r.row_id}
                current.update(r.outputs or {})
            else:
                keep(current)
        return found[:limit]

    def evidence(self, name: str) -> dict[str, dict[str, dict[str, Any]]]:
        """Each row's evidence per output field (research nodes' ok results), merged in node
        order as outputs are: ``{row_id: {field: {status, url, quote, fetched_at, reason}}}``."""
        c = node_results.c
        query = (
            select(c.row_id, c.evidence)
            .where(and_(c.lead_list == name, c.status == OK, c.evidence.is_not(None)))
            .order_by(c.workflow, c.node_index)
        )
        found: dict[str, dict[str, dict[str, Any]]] = {}
        with self._reading() as conn:
            for r in conn.execute(query):
                if isinstance(r.evidence, dict):
                    found.setdefault(r.row_id, {}).update(r.evidence)
        return found

    def output_columns(self, name: str) -> list[str]:
        """Every output column some ok result of the list holds, in node order."""
        return self._enrichment(name)[1]

    def row_values(
        self, name: str, row_ids: Sequence[str] | None = None
    ) -> dict[str, dict[str, Any]]:
        """What a node sees of each row: imported columns, canonical fields, ok outputs.

        The imported columns keep their own names (``Company Name``); the list's
        field mapping adds the canonical fields (``name``) read from them, so a
        workflow reads the same names whatever the file called them. Outputs
        come last: what the pipeline decided is never hidden by imported data.
        """
        rows = self.lists.rows(name, row_ids)
        canonical, columns = self.lists.field_mapping(name)
        outputs, _ = self._enrichment(name, [r.row_id for r in rows] if row_ids else None)
        return {
            r.row_id: {
                **r.fields,
                **{
                    field: r.fields.get(columns[field]) if field in columns else None
                    for field in canonical
                },
                **outputs.get(r.row_id, {}),
                ID_COLUMN: r.row_id,
            }
            for r in rows
        }

    def wide_frame(self, name: str) -> pd.DataFrame:
        """One row per lead: ``_id``, the base fields, then every workflow's outputs.

        An imported column with the name of an output is shown as
        ``imported_<name>`` so the output keeps its own name: an export always
        shows what the pipeline decided. (The importer renames such columns
        on the way in; this covers outputs of workflows added later.)
        """
        import pandas as pd  # 1.8 s of CPU to import: only the exporter and the UI need it

        self.lists.require_list(name)
        rows = self.lists.rows(name)
        outputs, output_columns = self._enrichment(name)
        base_columns: dict[str, None] = {}
        for row in rows:
            for key in row.fields:
                base_columns.setdefault(key, None)
        shown = {key: imported_name(key, output_columns) for key in base_columns}
        records = []
        for row in rows:
            enriched = outputs.get(row.row_id, {})
            record: dict[str, Any] = {ID_COLUMN: row.row_id}
            record.update({shown[k]: row.fields.get(k) for k in base_columns})
            record.update({k: enriched.get(k) for k in output_columns})
            records.append(record)
        columns = [ID_COLUMN, *shown.values(), *output_columns]
        # Built as object dtype (not inferred, then cast): a column of ints with a
        # gap would otherwise pass through float64 and export 3 as 3.0.
        return pd.DataFrame(records, columns=columns, dtype=object)
