"""Founders and their LinkedIn profiles from web-search results: pure functions, no network.

``founder_search_query`` builds the query, ``extract_people`` turns the search results into
``Person``s; ``canonical_profile_url`` and ``company_matches`` are the two validation gates,
exported for the LLM extraction path, which must pass its answers through the same gates.
"""

from lead_pipeline.founders.extract import (
    DEFAULT_LIMIT,
    Person,
    extract_people,
    founder_search_query,
)
from lead_pipeline.founders.identity import CompanyIdentity, company_matches
from lead_pipeline.founders.roles import founder_title
from lead_pipeline.founders.urls import canonical_profile_url, is_canonical_profile_url

__all__ = [
    "DEFAULT_LIMIT",
    "CompanyIdentity",
    "Person",
    "canonical_profile_url",
    "company_matches",
    "extract_people",
    "founder_search_query",
    "founder_title",
    "is_canonical_profile_url",
]
