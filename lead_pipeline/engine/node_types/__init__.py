"""The built-in node types, listed in one place.

Each module defines one node type with ``registry.node_type``; ``BUILTIN`` lists
them as entry points of the ``lead_pipeline.node_types`` group, the way another
package declares its own, so the registry loads and checks both the same way
(``engine/plugins.py``).
"""

from lead_pipeline.engine.plugins import NODE_TYPES_GROUP, builtin

_MODULE = "lead_pipeline.engine.node_types"

BUILTIN = tuple(
    builtin(NODE_TYPES_GROUP, name, f"{_MODULE}.{value}")
    for name, value in (
        ("b2b_classifier", "classify:run_b2b_classifier"),
        ("crm_match", "crm_match:run_crm_match"),
        ("expression", "expression:run_expression"),
        ("fetch_page", "fetch:run_fetch_page"),
        ("founder_extract", "founders:run_founder_extract"),
        ("http", "http:run_http"),
        ("llm", "llm:run_llm"),
        ("python", "python_fn:run_python"),
        ("research", "research:run_research"),
        ("web_search", "search:run_web_search"),
        ("work_email", "email:run_work_email"),
    )
)
