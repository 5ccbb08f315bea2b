"""Imported by the forkserver that forks every step process: builds the code location once.

``lead_pipeline.defs.definitions`` builds nothing at import (its ``defs`` is
lazy); the step processes forked from a server that preloaded only the module
would each read the workflow files and build every asset again. Preloading
this module builds it in the server, and every step inherits the result.

Each step process also opens the Dagster instance (``DagsterInstance.from_ref``),
which imports the storage, scheduler and run coordinator classes its
``dagster.yaml`` names: about 270 modules, 0.25 s of CPU in every step, on the
run's critical path since a run's steps follow one another. The server imports
those modules too (it never opens the instance: a connection must not cross a
fork), so a step's instance costs 0.08 s.
"""

import importlib

from lead_pipeline.defs.definitions import chain_job
from lead_pipeline.settings import get_settings


def instance_modules() -> list[str]:
    """The modules a step's instance loads for the Dagster home the run uses: the instance
    factory and every class ``dagster.yaml`` configures (SQLite or PostgreSQL storage,
    the run coordinator, ...). Empty while the home has no folder yet (the first run
    creates it after this server starts; its steps then import these themselves)."""
    from lead_pipeline.defs.dagster_private import InstanceRef

    home = get_settings().dagster_home
    if not home.is_dir():
        return []
    ref = InstanceRef.from_dir(str(home))
    configured = {
        value.module_name for value in ref._asdict().values() if hasattr(value, "module_name")
    }
    return ["dagster._core.instance.factory", *sorted(configured)]


def _preload_instance_modules() -> None:
    try:
        modules = instance_modules()
        for module in modules:
            importlib.import_module(module)
    except Exception:
        # Only a head start: a dagster.yaml that Dagster cannot read, or a storage module
        # that is not installed, fails the command with Dagster's own message when it opens
        # the instance (defs/partitions.instance); the step server must not fail first.
        return


chain_job()
_preload_instance_modules()
