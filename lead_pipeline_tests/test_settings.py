"""The settings model: the one place the environment is read, and what the README says."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from lead_pipeline import settings
from lead_pipeline.cli import main
from lead_pipeline.providers import scrub
from lead_pipeline.settings import (
    ENV_NAMES,
    SettingsError,
    env_secret,
    get_settings,
    known_secrets,
    load_settings,
    readme_with_table,
    reset_settings,
)

PACKAGE = Path(settings.__file__).resolve().parent
README = PACKAGE.parent / "README.md"


def test_the_readme_table_is_the_models() -> None:
    text = README.read_text(encoding="utf-8")
    assert readme_with_table(text) == text, (
        "README's settings table is out of date: python -m lead_pipeline.settings --write-readme"
    )


def test_every_variable_named_in_the_code_is_a_setting() -> None:
    """A ``LEAD_PIPELINE_*`` name in the package that the model does not know would be a
    variable read somewhere else, or documented nowhere."""
    named = set()
    for path in PACKAGE.rglob("*.py"):
        named |= set(re.findall(r"\bLEAD_PIPELINE_[A-Z0-9_]*[A-Z0-9]\b", path.read_text()))
    assert named - set(ENV_NAMES) == set()


def test_nothing_but_settings_reads_the_environment() -> None:
    readers = []
    for path in PACKAGE.rglob("*.py"):
        if path.name == "settings.py" and path.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Attribute) and node.attr in ("environ", "getenv"):
                # The one write: the Dagster instance's home, for the processes it starts.
                line = ast.get_source_segment(path.read_text(), node) or ""
                if path.name == "partitions.py" and line == "os.environ":
                    continue
                readers.append(f"{path.relative_to(PACKAGE)}:{node.lineno}")
    assert readers == []


def test_typed_values_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEAD_PIPELINE_RATE_LIMITS", '{"openai": {"requests_per_second": 2}}')
    monkeypatch.setenv("LEAD_PIPELINE_PRICES", '{"my-model": [1, 2], "serper": 0.002}')
    monkeypatch.setenv("LEAD_PIPELINE_TRUSTED_HOSTS", " intranet.local , Wiki:8080 ,, ")
    monkeypatch.setenv("LEAD_PIPELINE_EXECUTOR", "  Celery ")
    monkeypatch.setenv("LEAD_PIPELINE_WORKERS", "   ")  # blank counts as unset
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1/")
    config = get_settings()
    assert config.rate_limits["openai"].requests_per_second == 2.0
    assert config.rate_limits["openai"].max_in_flight == 10_000
    assert config.prices == {"my-model": (1.0, 2.0), "serper": 0.002}
    assert config.trusted_hosts == ["intranet.local", "Wiki:8080"]
    assert config.executor == "celery"
    assert config.workers is None
    assert config.openai_base_url == "http://127.0.0.1:9/v1"


def test_paths_derive_from_the_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DAGSTER_HOME")
    config = load_settings(data_dir=tmp_path / "x" / ".." / "d")
    assert config.data_dir == (tmp_path / "d").resolve()
    assert config.db_url == f"sqlite:///{tmp_path / 'd' / 'lead_pipeline.db'}"
    assert config.leads_dir == tmp_path / "d" / "leads"
    assert config.dagster_home == tmp_path / "d" / "dagster_home"


def test_a_changed_variable_is_seen_at_the_next_call(monkeypatch: pytest.MonkeyPatch) -> None:
    first = get_settings()
    assert get_settings() is first  # built once while nothing changes
    monkeypatch.setenv("LEAD_PIPELINE_LLM_MODEL", "gpt-4.1-mini")
    assert get_settings().llm_model == "gpt-4.1-mini"
    monkeypatch.delenv("LEAD_PIPELINE_LLM_MODEL")
    assert get_settings().llm_model is None
    reset_settings()
    assert get_settings() is not first


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("LEAD_PIPELINE_RATE_LIMITS", '{"openai": 5}', r"LEAD_PIPELINE_RATE_LIMITS: openai: "),
        (
            "LEAD_PIPELINE_RATE_LIMITS",
            '{"openai": {"request_per_second": 5}}',
            r"LEAD_PIPELINE_RATE_LIMITS: openai.request_per_second: is not a setting",
        ),
        ("LEAD_PIPELINE_PRICES", '{"gpt-x": [1]}', r"LEAD_PIPELINE_PRICES: entry 'gpt-x'"),
        ("LEAD_PIPELINE_PRICES", '{"gpt-x": [-1, 2]}', r"LEAD_PIPELINE_PRICES: entry 'gpt-x'"),
        ("LEAD_PIPELINE_PRICES", '{"x": 1e400}', r"LEAD_PIPELINE_PRICES: entry 'x': inf is not"),
        ("LEAD_PIPELINE_PRICES", '{"x": [1, 1e400]}', r"LEAD_PIPELINE_PRICES: entry 'x': inf"),
        ("LEAD_PIPELINE_PRICES", '{"x": NaN}', r"LEAD_PIPELINE_PRICES: entry 'x': nan is not"),
        ("LEAD_PIPELINE_PRICES", '{"x": -0.01}', r"LEAD_PIPELINE_PRICES: entry 'x': -0.01 is not"),
        ("LEAD_PIPELINE_PRICES", '{"x": 20000}', r"LEAD_PIPELINE_PRICES: entry 'x': 20000 is not"),
        ("LEAD_PIPELINE_PRICES", '{"x": ' + "9" * 400 + "}", r"'x': 999999999999\.\.\. \(400"),
        ("LEAD_PIPELINE_PRICES", '{"x": "0.1"}', r"LEAD_PIPELINE_PRICES: entry 'x' must be"),
        ("LEAD_PIPELINE_PRICES", '{"x": true}', r"LEAD_PIPELINE_PRICES: entry 'x' must be"),
        ("LEAD_PIPELINE_PRICES", '{"serper": [1, 2]}', r"entry 'serper': serper is priced per re"),
        ("LEAD_PIPELINE_PRICES", '{"hubspot": 0.1}', r"entry 'hubspot': hubspot calls are not"),
        ("LEAD_PIPELINE_WORKERS", "many", r"LEAD_PIPELINE_WORKERS: .*integer"),
        ("LEAD_PIPELINE_WORKERS", "0", r"LEAD_PIPELINE_WORKERS: .*greater than or equal to 1"),
        ("LEAD_PIPELINE_ALLOW_PRIVATE_URLS", "maybe", r"LEAD_PIPELINE_ALLOW_PRIVATE_URLS: "),
        ("LEAD_PIPELINE_LLM_BACKEND", "gemini", r"LEAD_PIPELINE_LLM_BACKEND: 'gemini' is not"),
    ],
)
def test_a_bad_value_names_its_variable(
    name: str, value: str, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(name, value)
    with pytest.raises(SettingsError, match=message):
        get_settings()


def test_a_bad_value_is_one_line_from_the_cli(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-live-secret-0123456789")
    monkeypatch.setenv("LEAD_PIPELINE_RETRY", '{"max_attempts": "sk-live-secret-0123456789"}')
    assert main(["lists"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: LEAD_PIPELINE_RETRY: max_attempts:")
    assert "Traceback" not in err and "sk-live" not in err and len(err.splitlines()) == 1


def test_secrets_do_not_print_themselves(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SERPER_API_KEY", "serper-secret-value-42")
    config = get_settings()
    assert "serper-secret-value-42" not in repr(config) + str(config)
    assert config.serper_api_key is not None
    assert config.serper_api_key.get_secret_value() == "serper-secret-value-42"


def test_known_secrets_include_a_workflows_own_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """An ``http`` node may name a variable without a credential-like suffix; once read
    through ``env_secret`` its value is scrubbed like any key."""
    monkeypatch.setenv("CRM_AUTH", "crm-header-value-77")
    assert "crm-header-value-77" not in known_secrets()
    secret = env_secret("CRM_AUTH")
    assert secret is not None and secret.get_secret_value() == "crm-header-value-77"
    assert "crm-header-value-77" in known_secrets()
    assert scrub("sent crm-header-value-77") == "sent ***"
