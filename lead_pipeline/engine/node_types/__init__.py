"""The built-in node types, listed in one place.

Each module defines one node type with ``registry.node_type``; ``BUILTIN`` is
the list the registry starts from (plugins add theirs through entry points).
"""

from lead_pipeline.engine.node_types.classify import run_b2b_classifier
from lead_pipeline.engine.node_types.crm_match import run_crm_match
from lead_pipeline.engine.node_types.email import run_work_email
from lead_pipeline.engine.node_types.expression import run_expression
from lead_pipeline.engine.node_types.fetch import run_fetch_page
from lead_pipeline.engine.node_types.founders import run_founder_extract
from lead_pipeline.engine.node_types.http import run_http
from lead_pipeline.engine.node_types.llm import run_llm
from lead_pipeline.engine.node_types.python_fn import run_python
from lead_pipeline.engine.node_types.research import run_research
from lead_pipeline.engine.node_types.search import run_web_search
from lead_pipeline.engine.registry import NodeType

BUILTIN: tuple[NodeType, ...] = (
    run_b2b_classifier,
    run_crm_match,
    run_expression,
    run_fetch_page,
    run_founder_extract,
    run_http,
    run_llm,
    run_python,
    run_research,
    run_web_search,
    run_work_email,
)
