"""Start a Celery worker for lead-pipeline's steps: ``python -m lead_pipeline.defs.celery_worker``.

``dagster-celery worker start`` takes its broker and Celery settings only from
a ``-y`` YAML file (not from our variables), needs ``DAGSTER_HOME`` (here: the
one the settings name, ``data/dagster_home`` by default) for its own files, and
runs ``celery`` found on ``PATH``. This writes that file from the same settings
the run uses (``executor.celery_config``), puts this Python's ``bin`` folder
first on ``PATH`` and hands over to ``dagster-celery``::

    python -m lead_pipeline.defs.celery_worker --name w1 [-- CELERY WORKER ARGS, e.g. -c 4]

runs ``dagster-celery worker start -A dagster_celery.app -y $DAGSTER_HOME/celery-worker.yaml
-i lead_pipeline.defs.preload -n w1 -- -c 4``. ``--print-config`` prints the YAML
instead, for a worker started by hand.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import yaml

from lead_pipeline.defs.executor import ExecutorConfigError, celery_config
from lead_pipeline.settings import SettingsError, child_environment, get_settings

CONFIG_NAME = "celery-worker.yaml"


def worker_yaml() -> str:
    """The ``-y`` file: the executor config block ``dagster-celery`` reads."""
    if not get_settings().celery_broker:
        raise ExecutorConfigError(
            "LEAD_PIPELINE_CELERY_BROKER is not set: name the broker the runs use, "
            "e.g. redis://broker.internal:6379/0"
        )
    return yaml.safe_dump({"execution": {"config": celery_config()}}, sort_keys=False)


# Imported by the worker before it forks its pool, so no step pays for loading the code.
PRELOAD = "lead_pipeline.defs.preload"


def command(config_path: Path, name: str | None, extra: list[str]) -> list[str]:
    args = ["dagster-celery", "worker", "start", "-A", "dagster_celery.app", "-y", str(config_path)]
    args += ["-i", PRELOAD]
    if name:
        args += ["-n", name]
    return [*args, "--", *extra] if extra else args


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m lead_pipeline.defs.celery_worker", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--name", "-n", help="worker name (default: dagster-XXXXXX@host)")
    parser.add_argument("--print-config", action="store_true", help="print the -y file and exit")
    parser.add_argument("celery_args", nargs="*", help="passed to `celery worker` after --")
    args = parser.parse_args(argv)
    try:
        text = worker_yaml()
        home = get_settings().dagster_home
    except (ExecutorConfigError, SettingsError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.print_config:
        sys.stdout.write(text)
        return 0
    config_path = home / CONFIG_NAME
    config_path.parent.mkdir(parents=True, exist_ok=True)
    config_path.write_text(text)
    config_path.chmod(0o600)  # the broker URL may carry a password
    # dagster-celery reads DAGSTER_HOME itself and runs `celery` from PATH; the steps
    # use the run's instance (its dagster.yaml), not this home's.
    env = child_environment(path_first=str(Path(sys.executable).parent), DAGSTER_HOME=str(home))
    argv_out = command(config_path, args.name, args.celery_args)
    os.execvpe(argv_out[0], argv_out, env)
    return 0  # not reached


if __name__ == "__main__":
    raise SystemExit(main())
