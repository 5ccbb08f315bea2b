"""API clients every node calls, with shared rate limits, retries, cache, cost and budget.

Providers import nothing of the project but :mod:`lead_pipeline.settings`: they
receive questions and return :class:`ProviderResponse` objects or raise
:class:`ProviderError` subclasses whose messages never contain a key.
"""

from lead_pipeline.providers.budget import Budget
from lead_pipeline.providers.cache import MemoryCache, ResponseCache, cache_key
from lead_pipeline.providers.cost import DEFAULT_PRICES, PriceError, PriceTable, Usage, load_prices
from lead_pipeline.providers.errors import (
    AuthError,
    BlockedURL,
    BudgetExceeded,
    FetchFailed,
    InvalidAnswer,
    NotConfigured,
    ProviderError,
    ProviderUnavailable,
    QuotaExhausted,
    RateLimited,
    WaterfallExhausted,
)
from lead_pipeline.providers.fetch import Page, fetch_page
from lead_pipeline.providers.http import Timeouts, make_client
from lead_pipeline.providers.llm import (
    complete_json,
    configured_llm_backends,
    llm_configured,
    resolve_backend,
    resolve_model,
)
from lead_pipeline.providers.policy import CallPolicy, Paid, ProviderResponse
from lead_pipeline.providers.ratelimit import Limit, RateLimiter
from lead_pipeline.providers.redact import get_logger, scrub
from lead_pipeline.providers.retry import RetryPolicy
from lead_pipeline.providers.schema import SchemaError, build_schema, validate
from lead_pipeline.providers.search import (
    configured_search_providers,
    search_env_vars,
    web_search,
)
from lead_pipeline.providers.session import ProviderSession
from lead_pipeline.providers.urlguard import UrlGuard, blocked_reason
from lead_pipeline.providers.waterfall import Attempt, WaterfallResult, waterfall

__all__ = [
    "DEFAULT_PRICES",
    "Attempt",
    "AuthError",
    "BlockedURL",
    "Budget",
    "BudgetExceeded",
    "CallPolicy",
    "FetchFailed",
    "InvalidAnswer",
    "Limit",
    "MemoryCache",
    "NotConfigured",
    "Page",
    "Paid",
    "PriceError",
    "PriceTable",
    "ProviderError",
    "ProviderResponse",
    "ProviderSession",
    "ProviderUnavailable",
    "QuotaExhausted",
    "RateLimited",
    "RateLimiter",
    "ResponseCache",
    "RetryPolicy",
    "SchemaError",
    "Timeouts",
    "UrlGuard",
    "Usage",
    "WaterfallExhausted",
    "WaterfallResult",
    "blocked_reason",
    "build_schema",
    "cache_key",
    "complete_json",
    "configured_llm_backends",
    "configured_search_providers",
    "fetch_page",
    "get_logger",
    "llm_configured",
    "load_prices",
    "make_client",
    "resolve_backend",
    "resolve_model",
    "scrub",
    "search_env_vars",
    "validate",
    "waterfall",
    "web_search",
]
