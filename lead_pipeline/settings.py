"""Every environment variable the pipeline reads, as one typed model.

:class:`Settings` is the only place that looks at ``os.environ``: other modules
call :func:`get_settings` (or receive a ``Settings``) and read typed fields, so
a key cannot leak through a stray environment dump, and a bad value is refused
once, with one message naming the variable, before any work starts.

To add a variable, add a field made with :func:`var` (the README's table is
generated from these fields: ``python -m lead_pipeline.settings --markdown``,
and a test fails when the README and the model drift apart).
"""

from __future__ import annotations

import json
import math
import os
import re
import sys
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    StrictInt,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lead_pipeline.durations import parse_duration

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Names with these endings are credentials wherever they come from (an ``http``
# node's ``secret_headers`` names its own), so error text is scrubbed of them.
SECRET_SUFFIXES = ("_API_KEY", "_TOKEN", "_SECRET", "_PASSWORD")
_SECRET_SUFFIXES_B = tuple(s.encode() for s in SECRET_SUFFIXES)

# USD per request, or per million tokens: (input, output) or (input, output, cached input).
Price = float | tuple[float, float] | tuple[float, float, float]
# The most a number in LEAD_PIPELINE_PRICES may be (USD per request or per million tokens;
# the dearest published model is far below): more is a typo, or 1e400, which JSON reads
# as infinity, and would let one call pass any --max-cost.
MAX_PRICE_USD = 10_000.0

# USD per request (per match for email finders) of the built-in clients' providers;
# LEAD_PIPELINE_PRICES overrides them, with a number (a token price cannot apply).
REQUEST_PRICES: dict[str, float] = {
    "serper": 0.001,
    "brave": 0.005,
    "fetch": 0.0,
    # Email finders charge per match only (their clients price a "no match" at 0):
    # Hunter Starter, $49 for 2,000 searches a month; its verifier, $49 for 4,000
    # verifications; Apollo, $0.20 per additional credit (one per enriched email);
    # People Data Labs Pro, $98 for 350 person matches.
    "hunter": 0.0245,
    "hunter_verify": 0.01225,
    "apollo": 0.20,
    "pdl": 0.28,
}
# Providers we call that are not billed per call: a price for one would be ignored.
UNPRICED_PROVIDERS = frozenset({"hubspot"})


class SettingsError(ValueError):
    """An environment variable holds a value the pipeline cannot use."""


def var(
    env: str,
    what: str,
    default: Any = None,
    *,
    shown_default: str | None = None,
    group: Literal["storage", "providers", "runs", "deploy"] = "storage",
    **constraints: Any,
) -> Any:
    """A field read from the environment variable ``env``.

    ``what`` and ``shown_default`` (the default as a reader should see it, when it
    is derived or not the literal value) become the README's table row.
    """
    return Field(
        default,
        validation_alias=env,
        description=what,
        json_schema_extra={"shown_default": shown_default, "group": group},
        **constraints,
    )


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RateLimitSetting(_Strict):
    """One provider's pacing in ``LEAD_PIPELINE_RATE_LIMITS``."""

    requests_per_second: float | None = Field(None, gt=0)
    max_in_flight: StrictInt = Field(10_000, ge=1)
    burst: StrictInt = Field(1, ge=1)


class RetrySetting(_Strict):
    """``LEAD_PIPELINE_RETRY``: the fields of ``providers.retry.RetryPolicy``."""

    max_attempts: StrictInt = Field(4, ge=1)
    base_delay: float = Field(0.5, ge=0)
    max_delay: float = Field(20.0, ge=0)
    max_total_wait: float = Field(60.0, ge=0)


class TimeoutsSetting(_Strict):
    """``LEAD_PIPELINE_TIMEOUTS``: seconds, the fields of ``providers.http.Timeouts``."""

    total: float = Field(60.0, gt=0)
    connect: float = Field(10.0, gt=0)
    read: float = Field(30.0, gt=0)


def _json(raw: Any, kind: type = dict) -> Any:
    """JSON text from a variable as a Python value; ``ValueError`` says what is wrong."""
    if not isinstance(raw, str):
        return raw
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"not valid JSON: {exc.msg} at char {exc.pos}") from None
    if not isinstance(value, kind):
        raise ValueError(f"expected a JSON object, got {raw[:60]!r}")
    return value


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _price(name: str, value: int | float) -> float:
    """``value`` as a price of entry ``name``: a finite number from 0 to MAX_PRICE_USD."""
    shown = (
        str(value) if len(str(value)) <= 24 else f"{str(value)[:12]}... ({len(str(value))} digits)"
    )
    read_as_inf = isinstance(value, float) and math.isinf(value)
    why = " (JSON reads a number as large as 1e400 as infinity)" if read_as_inf else ""
    if isinstance(value, int) and abs(value) > MAX_PRICE_USD:
        value = float("inf") if value > 0 else -float("inf")  # 10**400 fits no float
    number = float(value)
    if not (math.isfinite(number) and 0 <= number <= MAX_PRICE_USD):
        raise ValueError(
            f"entry {name!r}: {shown} is not a price{why}; give USD from 0 to {MAX_PRICE_USD:,.0f}"
        )
    return number


def parse_prices(raw: Any) -> dict[str, Price]:
    """``LEAD_PIPELINE_PRICES``: model -> ``[input, output]`` or ``[input, output, cached
    input]`` USD per 1M tokens, or provider -> a price per request.

    Every number is finite and between 0 and :data:`MAX_PRICE_USD`, a provider priced
    per request gets one number, and a provider nothing prices (HubSpot) none: a price
    that cannot apply is refused here, so ``--plan`` refuses it too."""
    data = _json(raw)
    prices: dict[str, Price] = {}
    for key, value in data.items():
        name = str(key)
        if name in UNPRICED_PROVIDERS:
            raise ValueError(f"entry {name!r}: {name} calls are not billed per call; remove it")
        if _number(value):
            prices[name] = _price(name, value)
        elif isinstance(value, list | tuple) and len(value) in (2, 3) and all(map(_number, value)):
            if name in REQUEST_PRICES:
                raise ValueError(
                    f"entry {name!r}: {name} is priced per request; give one number (USD "
                    f"per request), not token prices, got {value!r}"
                )
            prices[name] = tuple(_price(name, v) for v in value)  # type: ignore[assignment]
        else:
            raise ValueError(
                f"entry {name!r} must be [input_per_1M, output_per_1M] (a third number "
                f"prices cached input) or a price per request (a non-negative number), "
                f"got {value!r}"[:300]
            )
    return prices


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(B|KB|MB|GB)?\s*$", re.IGNORECASE)
_UNITS = {"B": 1, "KB": 1_000, "MB": 1_000_000, "GB": 1_000_000_000}


def parse_size(value: Any) -> int:
    """A size in bytes from ``4000000``, ``"512KB"`` or ``"4MB"`` (decimal units), at least
    1 KB (a cap smaller than any answer would refuse them all)."""
    if isinstance(value, int) and not isinstance(value, bool):
        size = value
    else:
        match = _SIZE.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError(f'{value!r} is not a size: write bytes, or like "512KB", "4MB"')
        size = int(float(match.group(1)) * _UNITS[(match.group(2) or "B").upper()])
    if not 1_000 <= size <= 1_000_000_000:
        raise ValueError(f"{value!r}: a size from 1KB to 1GB")
    return size


def _csv(raw: Any) -> Any:
    if isinstance(raw, str):
        return [part.strip() for part in raw.split(",") if part.strip()]
    return raw


class Settings(BaseSettings):
    """The pipeline's configuration, from the environment (or keyword arguments in tests)."""

    model_config = SettingsConfigDict(
        case_sensitive=True,
        extra="ignore",
        env_ignore_empty=True,
        populate_by_name=True,
        validate_default=False,  # derived defaults are filled in by _derive_paths
    )

    # storage and folders
    data_dir: Path = var(
        "LEAD_PIPELINE_DATA_DIR",
        "embedded state: the SQLite store, the Dagster home, exports",
        PROJECT_ROOT / "data",
        shown_default="`data/` in the repository",
    )
    db_url: str = var(
        "LEAD_PIPELINE_DB_URL",
        "the lead store, any SQLAlchemy URL",
        "",
        shown_default="`sqlite:///<data dir>/lead_pipeline.db`",
    )
    dagster_home: Path = var(
        "DAGSTER_HOME",
        "the persistent Dagster instance (a `dagster.yaml` is written on first use)",
        shown_default="`<data dir>/dagster_home`",
    )
    workflows_dir: Path = var(
        "LEAD_PIPELINE_WORKFLOWS",
        "your own workflow YAML files",
        shown_default="`<data dir>/workflows`",
    )
    leads_dir: Path = var(
        "LEAD_PIPELINE_LEADS_DIR",
        "the folder the lead-file sensor watches",
        shown_default="`<data dir>/leads`",
    )
    max_lead_file_mb: int = var(
        "LEAD_PIPELINE_MAX_LEAD_FILE_MB",
        "the largest lead file `import` and the lead-file sensor read, in MB (for Parquet, "
        "its uncompressed data too); a bigger file is refused naming its size",
        100,
        gt=0,
    )
    max_lead_line_kb: int = var(
        "LEAD_PIPELINE_MAX_LEAD_LINE_KB",
        "the longest line of a CSV, TSV or JSONL lead file, in KB (one record); a longer "
        "line is refused naming it",
        1024,
        gt=0,
    )
    plugins: Annotated[list[str], NoDecode] = var(
        "LEAD_PIPELINE_PLUGINS",
        "deprecated (use a `lead_pipeline.functions` entry point): modules to import for "
        "their registered `python` row functions, comma separated",
        [],
        shown_default="none",
    )

    # providers
    openai_api_key: SecretStr | None = var(
        "OPENAI_API_KEY", "key for OpenAI or a server speaking its API", group="providers"
    )
    openai_base_url: str = var(
        "OPENAI_BASE_URL",
        "an OpenAI-compatible chat-completions API (ends in `/v1`)",
        "https://api.openai.com/v1",
        group="providers",
    )
    anthropic_api_key: SecretStr | None = var(
        "ANTHROPIC_API_KEY", "key for Anthropic's Messages API", group="providers"
    )
    anthropic_base_url: str = var(
        "ANTHROPIC_BASE_URL",
        "where Anthropic's Messages API is",
        "https://api.anthropic.com",
        group="providers",
    )
    llm_backend: Literal["openai", "anthropic"] | None = var(
        "LEAD_PIPELINE_LLM_BACKEND",
        "`openai` or `anthropic` when both keys are set",
        shown_default="the first with a key, OpenAI first",
        group="providers",
    )
    llm_model: str | None = var(
        "LEAD_PIPELINE_LLM_MODEL",
        "the model; a `claude-*` name also applies to Anthropic",
        shown_default="`gpt-4o-mini`",
        group="providers",
    )
    anthropic_model: str | None = var(
        "LEAD_PIPELINE_ANTHROPIC_MODEL",
        "the model when the backend is Anthropic",
        shown_default="a `claude-*` `LEAD_PIPELINE_LLM_MODEL`, else `claude-haiku-4-5`",
        group="providers",
    )
    serper_api_key: SecretStr | None = var(
        "SERPER_API_KEY", "web search for `founder_linkedin` (tried first)", group="providers"
    )
    serper_base_url: str = var(
        "SERPER_BASE_URL", "where Serper's API is", "https://google.serper.dev", group="providers"
    )
    brave_api_key: SecretStr | None = var(
        "BRAVE_API_KEY", "web search, when Serper has no key", group="providers"
    )
    brave_base_url: str = var(
        "BRAVE_BASE_URL",
        "where Brave Search's API is",
        "https://api.search.brave.com",
        group="providers",
    )
    hunter_api_key: SecretStr | None = var(
        "HUNTER_API_KEY",
        "work emails for `founder_email` (Hunter's Email Finder, tried first) and its "
        "Email Verifier",
        group="providers",
    )
    hunter_base_url: str = var(
        "HUNTER_BASE_URL", "where Hunter's API is", "https://api.hunter.io", group="providers"
    )
    apollo_api_key: SecretStr | None = var(
        "APOLLO_API_KEY", "work emails through Apollo's People Match (second)", group="providers"
    )
    apollo_base_url: str = var(
        "APOLLO_BASE_URL", "where Apollo's API is", "https://api.apollo.io", group="providers"
    )
    pdl_api_key: SecretStr | None = var(
        "PDL_API_KEY",
        "work emails through People Data Labs' Person Enrichment (third)",
        group="providers",
    )
    pdl_base_url: str = var(
        "PDL_BASE_URL",
        "where People Data Labs' API is",
        "https://api.peopledatalabs.com",
        group="providers",
    )
    hubspot_access_token: SecretStr | None = var(
        "HUBSPOT_ACCESS_TOKEN",
        "a HubSpot private app's access token (CRM objects read/write scopes), for "
        "`sync hubspot` and the `hubspot_sync` asset",
        group="providers",
    )
    hubspot_base_url: str = var(
        "HUBSPOT_BASE_URL", "where HubSpot's API is", "https://api.hubapi.com", group="providers"
    )
    rate_limits: Annotated[dict[str, RateLimitSetting], NoDecode] = var(
        "LEAD_PIPELINE_RATE_LIMITS",
        "per-provider pacing, JSON: "
        '`{"openai": {"requests_per_second": 5, "max_in_flight": 10, "burst": 1}}`; '
        "providers are `openai`, `anthropic`, `serper`, `brave`, `fetch`, `hunter`, "
        "`hunter_verify`, `apollo`, `pdl`, `hubspot` and the "
        "`provider` name of your `http` nodes",
        {},
        shown_default="paced only by `--parallel` and the providers' 429 answers",
        group="providers",
    )
    prices: Annotated[dict[str, Price], NoDecode] = var(
        "LEAD_PIPELINE_PRICES",
        "prices for the cost column and `--max-cost`, by exact model or provider name, "
        'JSON: `{"my-model": [0.15, 0.60, 0.075], "serper": 0.001}` (USD per million '
        "input, output and, optionally, cached input tokens; or per request, which is "
        "how search, fetch, email finders and an `http` node's `provider` are priced, "
        "the node's `cost_per_request` otherwise); each number from 0 to 10,000, "
        "anything else is refused at start",
        {},
        shown_default="token prices from genai-prices; per-request list prices",
        group="providers",
    )
    cache_ttl: Annotated[dict[str, timedelta], NoDecode] = var(
        "LEAD_PIPELINE_CACHE_TTL",
        "how long a provider's cached answers are reused, JSON of durations: "
        '`{"default": "30d", "serper": "7d", "openai": "90d"}`; older entries are asked '
        "again and pruned at the end of each run",
        {},
        shown_default="30 days for every provider",
        group="providers",
    )
    batch_max_requests: int | None = var(
        "LEAD_PIPELINE_BATCH_MAX_REQUESTS",
        "the most questions one LLM batch holds (`--lane batch`), below the provider's own "
        "limit; a shard's questions beyond it go in further batches",
        None,
        shown_default="the provider's limit: 50,000 for OpenAI, 100,000 for Anthropic",
        group="providers",
        gt=0,
    )
    batch_poll_s: float = var(
        "LEAD_PIPELINE_BATCH_POLL_S",
        "seconds between polls of open LLM batches by `enrich --lane batch --wait`",
        30.0,
        group="providers",
        gt=0,
    )
    answer_limits: Annotated[dict[str, int], NoDecode] = var(
        "LEAD_PIPELINE_ANSWER_LIMITS",
        "the largest provider answer read, after decompression, by provider name or "
        '`default`, JSON of sizes: `{"default": "4MB", "hubspot": "16MB"}`; a larger '
        "answer is refused (web pages are cut at their node's `max_bytes` instead)",
        {},
        shown_default="4 MB for LLMs, search and `http` nodes, 1 MB for email finders, "
        "8 MB for HubSpot",
        group="providers",
    )
    retry: Annotated[RetrySetting | None, NoDecode] = var(
        "LEAD_PIPELINE_RETRY",
        "retries of 429, 5xx and timeouts, JSON: "
        '`{"max_attempts": 4, "base_delay": 0.5, "max_delay": 20, "max_total_wait": 60}`',
        shown_default="those values",
        group="providers",
    )
    timeouts: Annotated[TimeoutsSetting | None, NoDecode] = var(
        "LEAD_PIPELINE_TIMEOUTS",
        'seconds per request, JSON: `{"total": 60, "connect": 10, "read": 30}`',
        shown_default="those values",
        group="providers",
    )
    allow_private_urls: bool = var(
        "LEAD_PIPELINE_ALLOW_PRIVATE_URLS",
        "let the page fetcher reach private, loopback and link-local addresses",
        False,
        group="providers",
    )
    trusted_hosts: Annotated[list[str], NoDecode] = var(
        "LEAD_PIPELINE_TRUSTED_HOSTS",
        "`host` or `host:port` entries, comma separated, the fetcher may reach even when "
        "private (a redirect from them into other private addresses is still refused)",
        [],
        shown_default="none",
        group="providers",
    )

    # runs
    confirm_above_usd: float = var(
        "LEAD_PIPELINE_CONFIRM_ABOVE_USD",
        "`enrich` shows the plan and asks before a run that could cost more than this (USD); "
        "`--yes` skips the question",
        1.0,
        group="runs",
        ge=0,
    )
    run_stall_timeout_s: float = var(
        "LEAD_PIPELINE_RUN_STALL_TIMEOUT",
        "seconds `lead-pipeline enrich` waits on a run that neither writes rows nor logs a "
        "Dagster event before it marks the run failed and says which steps were in progress",
        1800.0,
        group="runs",
        gt=0,
    )
    run_lock_stale_s: float = var(
        "LEAD_PIPELINE_RUN_LOCK_STALE_S",
        "seconds without a heartbeat after which another run takes a run's lock over",
        120.0,
        group="runs",
        gt=0,
    )

    run_launcher: str | None = var(
        "LEAD_PIPELINE_RUN_LAUNCHER",
        "set by `lead-pipeline enrich` for its own step processes (host, pid and start time "
        "of the command), so a lock whose command died is taken over at once; never set it",
        None,
        group="runs",
        shown_default="unset",
    )

    # deployment
    executor: Literal["multiprocess", "celery", "k8s"] = var(
        "LEAD_PIPELINE_EXECUTOR",
        "where steps run: `multiprocess`, `celery` or `k8s`",
        "multiprocess",
        group="deploy",
    )
    workers: int | None = var(
        "LEAD_PIPELINE_WORKERS",
        "steps at once",
        shown_default="the number of cores",
        group="deploy",
        ge=1,
    )
    celery_broker: str | None = var(
        "LEAD_PIPELINE_CELERY_BROKER",
        "the Celery executor's broker URL",
        shown_default="Celery's default",
        group="deploy",
    )
    celery_backend: str | None = var(
        "LEAD_PIPELINE_CELERY_BACKEND",
        "the Celery executor's result backend URL",
        shown_default="Celery's default",
        group="deploy",
    )
    celery_lost_after_s: float = var(
        "LEAD_PIPELINE_CELERY_LOST_AFTER",
        "seconds a Celery step's worker may answer no ping before the step is sent to "
        "another worker (twice at most; then the run fails naming the step)",
        60.0,
        group="deploy",
        gt=0,
    )
    celery_visibility_timeout_s: int = var(
        "LEAD_PIPELINE_CELERY_VISIBILITY_TIMEOUT",
        "seconds before a Redis broker hands an unacknowledged step to another worker on its "
        "own; keep it above the longest step, or that step runs twice",
        12 * 3600,
        group="deploy",
        gt=0,
    )
    k8s_image: str | None = var(
        "LEAD_PIPELINE_K8S_IMAGE",
        "the image of the Kubernetes executor's step jobs",
        shown_default="the run's image",
        group="deploy",
    )
    k8s_namespace: str | None = var(
        "LEAD_PIPELINE_K8S_NAMESPACE",
        "the namespace of the Kubernetes executor's step jobs",
        shown_default="the run's namespace",
        group="deploy",
    )

    @model_validator(mode="before")
    @classmethod
    def _blank_is_unset(cls, data: Any) -> Any:
        """Surrounding whitespace is dropped and a blank value counts as unset."""
        if isinstance(data, dict):
            data = {k: v.strip() if isinstance(v, str) else v for k, v in data.items()}
            data = {k: v for k, v in data.items() if v != ""}
        return data

    @field_validator("executor", "llm_backend", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.lower() if isinstance(value, str) else value

    @field_validator("plugins", "trusted_hosts", mode="before")
    @classmethod
    def _comma_separated(cls, value: Any) -> Any:
        return _csv(value)

    @field_validator("rate_limits", "retry", "timeouts", mode="before")
    @classmethod
    def _json_object(cls, value: Any) -> Any:
        return _json(value)

    @field_validator("prices", mode="before")
    @classmethod
    def _prices(cls, value: Any) -> Any:
        return parse_prices(value)

    @field_validator("answer_limits", mode="before")
    @classmethod
    def _sizes(cls, value: Any) -> Any:
        raw = _json(value)
        if not isinstance(raw, dict):
            return raw
        return {str(provider): parse_size(size) for provider, size in raw.items()}

    @field_validator("cache_ttl", mode="before")
    @classmethod
    def _lifetimes(cls, value: Any) -> Any:
        raw = _json(value)
        if not isinstance(raw, dict):
            return raw
        return {str(provider): parse_duration(age) for provider, age in raw.items()}

    @field_validator(
        "openai_base_url",
        "anthropic_base_url",
        "serper_base_url",
        "brave_base_url",
        "hunter_base_url",
        "apollo_base_url",
        "pdl_base_url",
        "hubspot_base_url",
    )
    @classmethod
    def _no_trailing_slash(cls, value: str) -> str:
        return value.rstrip("/")

    @model_validator(mode="after")
    def _derive_paths(self) -> Settings:
        """Folders and the store default to places under the data folder."""
        self.data_dir = self.data_dir.resolve()
        self.db_url = self.db_url or f"sqlite:///{self.data_dir / 'lead_pipeline.db'}"
        self.dagster_home = (self.dagster_home or self.data_dir / "dagster_home").resolve()
        self.workflows_dir = (self.workflows_dir or self.data_dir / "workflows").resolve()
        self.leads_dir = (self.leads_dir or self.data_dir / "leads").resolve()
        return self

    def secrets(self) -> list[SecretStr]:
        """Every credential field that is set."""
        return [
            v for name in type(self).model_fields if isinstance(v := getattr(self, name), SecretStr)
        ]


def env_name(field: str) -> str:
    """The environment variable behind a settings field."""
    alias = Settings.model_fields[field].validation_alias
    return alias if isinstance(alias, str) else field


def _is_secret(annotation: Any) -> bool:
    return "SecretStr" in str(annotation)


ENV_NAMES: tuple[str, ...] = tuple(env_name(f) for f in Settings.model_fields)
_FIELD_BY_ENV = {env_name(f): f for f in Settings.model_fields}
SECRET_ENV_NAMES: tuple[str, ...] = tuple(
    env_name(f) for f, info in Settings.model_fields.items() if _is_secret(info.annotation)
)


def _describe(exc: ValidationError) -> str:
    by_field = {f: env_name(f) for f in Settings.model_fields}
    lines = []
    for error in exc.errors():
        head, *rest = [str(part) for part in error["loc"]] or ["?"]
        name = by_field.get(head, head)
        message = error["msg"].removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = "is not a setting here"
        elif error["type"] == "literal_error":
            message = f"{error['input']!r} is not one of {error['ctx']['expected']}"
        where = ".".join(part for part in rest if not part.isdigit())
        lines.append(f"{name}: {where + ': ' if where else ''}{message}")
    return "; ".join(lines)


def export_setting(field: str, value: str) -> None:
    """Set ``field``'s variable in this process's environment, for the processes it starts
    (``lead-pipeline enrich`` names itself to its step processes this way)."""
    os.environ[env_name(field)] = value


def load_settings(**values: Any) -> Settings:
    """A fresh ``Settings`` from the environment (``values`` win), or :class:`SettingsError`."""
    try:
        return Settings(**values)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


_lock = threading.Lock()
_cached: tuple[tuple[str | None, ...], Settings] | None = None


def get_settings() -> Settings:
    """The settings for the current environment, built once and reused.

    The cache is keyed on the variables' current values, so a process that sets
    one (``DAGSTER_HOME`` for its workers, a test's ``monkeypatch``) sees it at
    the next call; in a normal run nothing changes and this is a dict lookup.
    """
    global _cached
    key = tuple(os.environ.get(name) for name in ENV_NAMES)
    cached = _cached
    if cached is not None and cached[0] == key:
        return cached[1]
    with _lock:
        built = load_settings()
        _cached = (key, built)
    return built


def setting(env: str, config: Settings | None = None) -> Any:
    """The value of the setting read from variable ``env``, in ``config`` (the caller's
    settings; the environment's when it has none).

    For tables of providers that name their variables (a key, a base URL): the
    value still comes from the model, typed and validated.
    """
    return getattr(config or get_settings(), _FIELD_BY_ENV[env])


def child_environment(path_first: str | None = None, **changes: str) -> dict[str, str]:
    """The environment for a program this process hands over to (a Celery worker), with
    ``changes`` and ``path_first`` put first on ``PATH``. Passed on whole, never logged."""
    env = {**os.environ, **changes}
    if path_first:
        env["PATH"] = os.pathsep.join([path_first, env.get("PATH", "")])
    return env


def reset_settings() -> None:
    """Forget the cached settings (tests call this around each test)."""
    global _cached
    _cached = None


def env_secret(name: str) -> SecretStr | None:
    """A credential in a variable a workflow names (an ``http`` node's ``secret_headers``).

    The one lookup by a name not in :class:`Settings`: the workflow author, not
    this package, decides what the variable is called. The name is remembered so
    :func:`known_secrets` scrubs its value even if it lacks a credential suffix.
    """
    _named_secrets.add(name)
    value = (os.environ.get(name) or "").strip()
    return SecretStr(value) if value else None


_named_secrets: set[str] = set()


def known_secrets() -> list[str]:
    """Values of every credential set, so log and error text can be scrubbed.

    The settings' secret fields, variables a workflow named as secret, and any
    variable whose name looks like a credential (a key of another tool that a
    provider might echo back).
    """
    # The environment's own bytes, read at C speed: going through ``os.environ`` (a decode
    # per name and value) cost more than the scrub these values feed, and every message
    # leaving the process is scrubbed.
    raw: Mapping[bytes, bytes] = getattr(os.environ, "_data", None) or os.environb
    wanted = {n.encode() for n in (*_named_secrets, *SECRET_ENV_NAMES)}
    values = {
        value.decode(errors="surrogateescape").strip()
        for name, value in raw.items()
        if name.endswith(_SECRET_SUFFIXES_B) or name in wanted
    }
    return [v for v in values if len(v) >= 6]


# --- the README's table ------------------------------------------------------

GROUP_TITLES = {
    "storage": "Storage and folders",
    "providers": "Providers (keys, endpoints, pacing, prices)",
    "runs": "Runs",
    "deploy": "Deployment (executors)",
}


def _shown_default(field: str) -> str:
    info = Settings.model_fields[field]
    extra = info.json_schema_extra if isinstance(info.json_schema_extra, dict) else {}
    shown = extra.get("shown_default")
    if shown:
        return str(shown)
    if info.default is None or info.default == "":
        return "unset"
    if isinstance(info.default, bool):
        return "off" if not info.default else "on"
    return f"`{info.default}`"


def markdown_table() -> str:
    """The variables as Markdown tables, one per group, for the README."""
    out: list[str] = []
    for group, title in GROUP_TITLES.items():
        fields = [
            f
            for f, info in Settings.model_fields.items()
            if isinstance(info.json_schema_extra, dict) and info.json_schema_extra["group"] == group
        ]
        if not fields:
            continue
        out += [f"**{title}**", "", "| variable | default | what |", "|---|---|---|"]
        for f in fields:
            secret = " (secret)" if _is_secret(Settings.model_fields[f].annotation) else ""
            what = Settings.model_fields[f].description
            out.append(f"| `{env_name(f)}`{secret} | {_shown_default(f)} | {what} |")
        out.append("")
    return "\n".join(out).rstrip() + "\n"


README_BEGIN = "<!-- settings table: generated by `python -m lead_pipeline.settings --markdown` -->"
README_END = "<!-- end of settings table -->"


def readme_with_table(readme: str) -> str:
    """``readme`` with the text between the table markers regenerated."""
    start = readme.index(README_BEGIN) + len(README_BEGIN)
    end = readme.index(README_END)
    return readme[:start] + "\n" + markdown_table() + readme[end:]


def main(argv: list[str] | None = None, out: Callable[[str], object] = sys.stdout.write) -> int:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--markdown"]:
        out(markdown_table())
        return 0
    if args == ["--write-readme"]:
        path = PROJECT_ROOT / "README.md"
        path.write_text(readme_with_table(path.read_text(encoding="utf-8")), encoding="utf-8")
        return 0
    out("usage: python -m lead_pipeline.settings --markdown | --write-readme\n")
    return 2


if __name__ == "__main__":
    sys.exit(main())
