"""Built-in node types; importing this package registers them."""

from lead_pipeline.engine.node_types import (  # noqa: F401
    classify,
    email,
    expression,
    fetch,
    founders,
    http,
    llm,
    python_fn,
    search,
)
