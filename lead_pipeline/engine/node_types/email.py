"""``work_email`` nodes: one work email per founder, through a waterfall of email finders.

For each founder (name, LinkedIn profile) the finders are asked in order
(Hunter, Apollo, People Data Labs by default) until one gives an address that
passes the gate of :mod:`lead_pipeline.founders.emails`: well-formed, at the
company's own domain, at or above ``min_confidence``, and, when Hunter's
Email Verifier is available and the finder itself had not verified it, not
reported ``invalid`` or ``disposable``. A finder's "no match" is free and is
not a failure; only a founder for whom every finder failed fails the row (so
a later run retries it, and the cache answers what was already paid for).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Literal, cast, get_args

from pydantic import Field

from lead_pipeline.engine.estimates import (
    MISS,
    CallEstimate,
    EstimateContext,
    cached_answer,
    is_cached,
)
from lead_pipeline.engine.registry import NodeCall, NodeConfig, NodeError, NodeOutcome, node_type
from lead_pipeline.founders.emails import check_work_email, company_domain
from lead_pipeline.providers import NotConfigured, ProviderError
from lead_pipeline.providers.email_finders import (
    BACKENDS,
    HUNTER_VERIFY,
    PersonQuery,
    configured_email_finders,
    email_env_vars,
    find_email,
    finder_request,
    verifier_configured,
    verify_email,
    verify_request,
)
from lead_pipeline.providers.waterfall import waterfall

if TYPE_CHECKING:
    from lead_pipeline.engine.compile import CompiledNode

Finder = Literal["hunter", "apollo", "pdl"]
# Finder statuses that already mean "checked deliverable": no second opinion is bought.
ALREADY_VERIFIED = frozenset({"valid", "verified"})
REFUSED_BY_VERIFIER = frozenset({"invalid", "disposable"})


class WorkEmailConfig(NodeConfig):
    template_fields: ClassVar[tuple[str, ...] | None] = ()  # renders no templates

    founders: str = Field(
        default="founders", description="column holding the founders (name, title, linkedin_url)"
    )
    website: str = Field(default="website", description="column holding the company's website")
    # Every finder, in the order of the Literal: the same as providers.email_finders.FINDERS.
    providers: list[Finder] = Field(default_factory=lambda: list(get_args(Finder)), min_length=1)
    verify: Literal["auto", "never"] = Field(
        default="auto", description="check unverified addresses with Hunter's Email Verifier"
    )
    min_confidence: float = Field(default=0.0, ge=0, le=1)
    limit: int = Field(default=5, ge=1, le=20, description="founders looked up per company")

    def input_columns(self) -> list[tuple[str, str]]:
        return [("founders", self.founders), ("website", self.website), ("(built in)", "name")]


def _preflight(config: WorkEmailConfig, _services: Any) -> None:
    if not set(config.providers) & set(configured_email_finders()):
        raise NotConfigured("work email lookup", email_env_vars(config.providers))


def _founders(config: WorkEmailConfig, values: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    founders = values.get(config.founders) or []
    if not isinstance(founders, list):
        raise NodeError(f"column {config.founders!r} is not a list of founders")
    people = [f for f in founders if isinstance(f, Mapping) and isinstance(f.get("name"), str)]
    return [f for f in people if f["name"].strip()][: config.limit]


def _estimate(
    node: CompiledNode, values: Mapping[str, Any] | None, context: EstimateContext
) -> CallEstimate:
    """Per founder, a waterfall over the configured finders, each verified when asked.

    Finders charge per match only, so a founder may cost nothing; at worst every
    finder matches, the gate refuses each answer, and each was verified. A cached
    answer is free, and one that passes the gate ends the waterfall.
    """
    config = cast(WorkEmailConfig, node.config)
    configured = set(configured_email_finders(context.settings))
    providers: list[str] = [p for p in config.providers if p in configured]
    if not providers:
        return CallEstimate(provider=None)
    verify = (
        context.prices.request_cost(HUNTER_VERIFY)
        if (config.verify == "auto" and verifier_configured(context.settings))
        else 0.0
    )
    prices = [context.prices.request_cost(p) for p in providers]
    if values is None:
        people: list[PersonQuery | None] = [None] * config.limit
        surely = 0
    else:
        domain = company_domain(values.get(config.website))
        try:
            founders = _founders(config, values)
        except Exception:
            founders = []
        if domain is None:
            founders = []
        company = values.get("name") if isinstance(values.get("name"), str) else None
        people = [
            PersonQuery(f["name"].strip(), domain or "", company, f.get("linkedin_url") or None)
            for f in founders
        ]
        surely = len(people)
    total = CallEstimate(
        providers[0], requests_per_second=BACKENDS[providers[0]].requests_per_second
    )
    for index, person in enumerate(people):
        total.calls_min += 1 if index < surely else 0
        for provider, price in zip(providers, prices, strict=True):
            data = (
                MISS
                if person is None
                else cached_answer(
                    context, provider, finder_request(provider, person, context.settings)
                )
            )
            if data is MISS:
                total.calls_max += 2 if verify else 1
                total.cost_max += price + verify
                continue
            total.calls_max += 1
            total.cached += 1
            website = values.get(config.website) if values else None
            check = check_work_email(data.get("email"), website) if isinstance(data, dict) else None
            if check is not None and check.ok:
                if verify and not is_cached(
                    context, HUNTER_VERIFY, verify_request(check.email or "", context.settings)
                ):
                    total.calls_max += 1
                    total.cost_max += verify
                break
    return total


@node_type("work_email", WorkEmailConfig, preflight=_preflight, kinds=("api",), estimate=_estimate)
async def run_work_email(call: NodeCall[WorkEmailConfig]) -> NodeOutcome:
    """Writes one record per founder found (email, provider, confidence, source, verification)
    to the first output column and their number to a second, if declared."""
    config = call.config
    session = call.services.session
    website = call.values.get(config.website)
    domain = company_domain(website)
    columns = list(call.outputs)
    founders = _founders(config, call.values)
    if domain is None or not founders:
        note = "no website to look up work emails at" if domain is None else "no founders"
        outputs: dict[str, Any] = {columns[0]: []}
        if len(columns) > 1:
            outputs[columns[1]] = 0
        return NodeOutcome(outputs=outputs, note=note)
    company = call.values.get("name") if isinstance(call.values.get("name"), str) else None
    verify = config.verify == "auto" and verifier_configured(session.settings)
    found: list[dict[str, Any]] = []
    answered: list[str] = []
    for founder in founders:
        person = PersonQuery(
            full_name=founder["name"].strip(),
            domain=domain,
            company=company,
            linkedin_url=founder.get("linkedin_url") if founder.get("linkedin_url") else None,
        )
        verdicts: dict[str, str | None] = {}

        async def passes(data: Any, person: PersonQuery = person, verdicts=verdicts) -> bool:
            if not isinstance(data, dict):
                return False
            check = check_work_email(data.get("email"), website)
            confidence = data.get("confidence")
            if not check.ok:
                return False
            # A confidence the finder did not give is not "at or above" a positive minimum.
            number = isinstance(confidence, int | float) and not isinstance(confidence, bool)
            known = confidence if number else None
            if config.min_confidence > 0 and (known is None or known < config.min_confidence):
                return False
            status = data.get("verification")
            if verify and (status or "").lower() not in ALREADY_VERIFIED:
                try:
                    checked = await verify_email(check.email or "", session=session)
                except ProviderError:
                    checked = None  # the verifier is optional: keep the finder's word
                if checked is not None:
                    status = checked.data["status"]
                    if status in REFUSED_BY_VERIFIER:
                        return False
            verdicts[check.email or ""] = status
            return True

        async def ask(provider: str, person: PersonQuery = person) -> Any:
            return await find_email(person, provider=provider, session=session)

        try:
            result = await waterfall(config.providers, ask, validate=passes)
        except ProviderError as exc:
            raise NodeError(f"{person.full_name}: {exc}") from None
        if not result.found:
            continue
        email = check_work_email(result.value["email"], website).email
        assert email is not None
        answered.append(result.provider or "")
        found.append(
            {
                "name": person.full_name,
                "title": founder.get("title"),
                "linkedin_url": founder.get("linkedin_url"),
                "email": email,
                "provider": result.provider,
                "confidence": result.value.get("confidence"),
                "source": result.value.get("source"),
                "verification": verdicts.get(email),
            }
        )
    outputs = {columns[0]: found}
    if len(columns) > 1:
        outputs[columns[1]] = len(found)
    providers = "+".join(dict.fromkeys(answered)) or None
    return NodeOutcome(outputs=outputs, provider=providers)
