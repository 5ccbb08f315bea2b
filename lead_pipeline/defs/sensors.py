"""The lead-file sensor: a new or changed file in the leads folder is imported and enriched.

The folder is ``LEAD_PIPELINE_LEADS_DIR`` (default ``data/leads/``), read at
every tick. Each supported file (CSV, TSV, JSON, JSONL, Parquet) is the lead
list named after its stem: ``acme-q3.csv`` becomes ``acme-q3``. The cursor
keeps each file's content hash, so touching a file does nothing and editing
it imports it again (import is idempotent: unchanged rows stay, results are
kept) and launches the chain, which then processes only new, changed-config
or failed rows.

Each import reuses what the list's first import decided (its ``--map``
choices and id rule, stored with the list), so a CRM export whose columns
were mapped on the command line keeps that mapping when the sensor imports
the next version of the file.

A file that cannot be imported (a bad name, a malformed row) is logged once
with the file, line and field, and retried only when its content changes; it
never stops the sensor from importing the other files.

Every entry with a lead-file extension is opened through the one lead-file
opener (``leads/opener.py``), hashing included: a directory, a FIFO, a device or
a symbolic link to one (``acme.csv -> /dev/zero``), or a file past the size cap,
is refused with one line naming it (logged once while it stays as it is), and
nothing of it is read.

The sensor ships stopped: turn it on in the UI (Automation, ``lead_files``)
or with ``dagster sensor start lead_files``.
"""

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg

from lead_pipeline.defs.partitions import LEAD_LISTS
from lead_pipeline.defs.requests import chain_request
from lead_pipeline.defs.resources import LeadStoreResource
from lead_pipeline.engine.compile import CompiledWorkflow
from lead_pipeline.leads import READ_FORMATS, LeadFileError, import_file
from lead_pipeline.leads.errors import display_path
from lead_pipeline.leads.opener import open_lead_file
from lead_pipeline.settings import get_settings
from lead_pipeline.store import InvalidNameError, check_name

SENSOR_NAME = "lead_files"
# Imports happen inside the tick, which Dagster times out after a minute; a
# folder of many new files is worked through a few files per tick.
MAX_FILES_PER_TICK = 5
MINIMUM_INTERVAL_SECONDS = 30


def file_digest(path: Path) -> str:
    """The content hash of a lead file, read through the lead-file opener (LeadFileError)."""
    digest = hashlib.sha256()
    with open_lead_file(path) as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def lead_files(folder: Path) -> list[Path]:
    """Entries directly in ``folder`` named like lead files, hidden and editor temp files aside.

    Whatever they are (a FIFO, a link to a device): the opener decides, and says so.
    """
    return sorted(
        p
        for p in folder.iterdir()
        if p.suffix.lower() in READ_FORMATS and not p.name.startswith((".", "~"))
    )


@dataclass
class Tick:
    """What one evaluation decided; kept apart from Dagster so it reads as a plan."""

    cursor: dict[str, str]
    imported: list[tuple[str, str]] = field(default_factory=list)  # (lead list, digest)
    errors: list[str] = field(default_factory=list)
    deferred: int = 0


def scan(folder: Path, cursor: dict[str, str], store: LeadStoreResource) -> Tick:
    """Import every new or changed file (up to the per-tick cap) and say what happened."""
    tick = Tick(cursor=dict(cursor))
    files = lead_files(folder)
    by_stem: dict[str, list[Path]] = {}
    for path in files:
        by_stem.setdefault(path.stem, []).append(path)
    changed = 0
    for path in files:
        key = path.name
        try:
            digest = file_digest(path)
        except LeadFileError as exc:
            # Logged once while the entry stays as it is, like a file that fails to import.
            refused = f"refused: {exc}"
            if cursor.get(key) != refused:
                tick.errors.append(str(exc))
            tick.cursor[key] = refused
            continue
        except OSError as exc:
            tick.errors.append(f"{display_path(path)}: cannot read it: {exc.strerror or exc}")
            continue
        if cursor.get(key) == digest:
            continue
        if changed >= MAX_FILES_PER_TICK:
            tick.deferred += 1
            continue
        changed += 1
        tick.cursor[key] = digest  # recorded even on failure: retried once the file changes
        twins = by_stem[path.stem]
        if len(twins) > 1:
            names = " and ".join(display_path(p.name) for p in twins)
            tick.errors.append(
                f"{display_path(path)}: {names} would both be lead list {path.stem!r}; "
                "rename one of them"
            )
            continue
        try:
            name = check_name(path.stem)
            import_file(store.get(), path, name)
        except InvalidNameError as exc:
            tick.errors.append(
                f"{display_path(path)}: the file name is the lead list name, and {exc}"
            )
            continue
        except LeadFileError as exc:
            tick.errors.append(str(exc))
            continue
        except OSError as exc:
            tick.errors.append(f"{display_path(path)}: cannot read it: {exc.strerror or exc}")
            continue
        tick.imported.append((name, digest))
    # Files that disappeared leave the cursor; a file put back is imported again.
    present = {p.name for p in files}
    tick.cursor = {k: v for k, v in tick.cursor.items() if k in present}
    return tick


def _load_cursor(raw: str | None) -> dict[str, str]:
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        return {}
    return {str(k): str(v) for k, v in data.items()} if isinstance(data, dict) else {}


def build_lead_files_sensor(
    workflows: Sequence[CompiledWorkflow], job_name: str
) -> dg.SensorDefinition:
    @dg.sensor(
        name=SENSOR_NAME,
        job_name=job_name,
        minimum_interval_seconds=MINIMUM_INTERVAL_SECONDS,
        default_status=dg.DefaultSensorStatus.STOPPED,
        description="Imports new or changed lead files from LEAD_PIPELINE_LEADS_DIR "
        "(default data/leads/) and runs the chain on each.",
    )
    def lead_files_sensor(
        context: dg.SensorEvaluationContext, store: LeadStoreResource
    ) -> dg.SensorResult:
        folder = get_settings().leads_dir
        cursor = _load_cursor(context.cursor)
        if not folder.is_dir():
            return dg.SensorResult(
                skip_reason=f"the leads folder {folder} does not exist "
                "(set LEAD_PIPELINE_LEADS_DIR or create it)",
                cursor=context.cursor,
            )
        tick = scan(folder, cursor, store)
        for error in tick.errors:
            context.log.error(f"not imported: {error}")
        requests: list[dg.RunRequest] = []
        for name, digest in tick.imported:
            request, skipped = chain_request(
                name, workflows, source="sensor", run_key=f"{name}@{digest[:16]}"
            )
            for workflow, reason in skipped.items():
                context.log.info(f"{name}: {workflow} left out: {reason}")
            if request is not None:
                requests.append(request)
        new_lists = [
            name
            for name, _ in tick.imported
            if not context.instance.has_dynamic_partition(LEAD_LISTS, name)
        ]
        partitions = [dg.AddDynamicPartitionsRequest(LEAD_LISTS, new_lists)] if new_lists else []
        skip_reason = None
        if not requests:
            skip_reason = (
                f"{len(tick.errors)} file(s) could not be imported: " + "; ".join(tick.errors)
                if tick.errors
                else f"no new or changed lead files in {folder}"
            )
        if tick.deferred:
            context.log.info(f"{tick.deferred} more changed file(s) left for the next tick")
        return dg.SensorResult(
            run_requests=requests,
            dynamic_partitions_requests=partitions,
            skip_reason=skip_reason,
            cursor=json.dumps(tick.cursor, sort_keys=True),
        )

    return lead_files_sensor
