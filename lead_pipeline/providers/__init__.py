"""API clients every node calls, with shared rate limits, retries, cache, cost and budget.

Providers import nothing of the project but :mod:`lead_pipeline.settings`: they
receive questions and return :class:`ProviderResponse` objects or raise
:class:`ProviderError` subclasses whose messages never contain a key.
"""

from lead_pipeline.lazy import lazy_exports

# Each name loads its submodule on first use (see lead_pipeline/lazy.py).
__all__, __getattr__, __dir__ = lazy_exports(
    __name__,
    {
        "answer": ("AnswerTooLarge",),
        "budget": ("Budget",),
        "cache": (
            "MemoryCache",
            "ResponseCache",
            "cache_key",
        ),
        "cost": (
            "REQUEST_PRICES",
            "PriceError",
            "PriceTable",
            "Usage",
        ),
        "errors": (
            "AuthError",
            "BlockedURL",
            "BudgetExceeded",
            "FetchFailed",
            "InvalidAnswer",
            "NotConfigured",
            "ProviderError",
            "ProviderUnavailable",
            "QuotaExhausted",
            "RateLimited",
            "UnpricedAnswer",
            "WaterfallExhausted",
        ),
        "fetch": (
            "Page",
            "fetch_page",
        ),
        "http": (
            "Timeouts",
            "make_client",
        ),
        "llm": (
            "complete_json",
            "configured_llm_backends",
            "llm_configured",
            "question",
            "resolve_backend",
            "resolve_model",
        ),
        "policy": (
            "CallPolicy",
            "Paid",
            "ProviderResponse",
            "Tab",
        ),
        "ratelimit": (
            "Limit",
            "RateLimiter",
        ),
        "redact": (
            "get_logger",
            "scrub",
        ),
        "retry": ("RetryPolicy",),
        "schema": (
            "SchemaError",
            "build_schema",
            "validate",
        ),
        "search": (
            "configured_search_providers",
            "search_env_vars",
            "web_search",
        ),
        "session": ("ProviderSession",),
        "urlguard": (
            "UrlGuard",
            "blocked_reason",
        ),
        "waterfall": ("Attempt", "WaterfallResult"),
    },
)
