"""Built-in node types; importing this package registers them."""

from lead_pipeline.engine.node_types import expression, http, python_fn  # noqa: F401
