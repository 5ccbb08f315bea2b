"""Email finders against stand-ins speaking Hunter's, Apollo's and PDL's documented protocols."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from lead_pipeline.providers import (
    AuthError,
    Budget,
    InvalidAnswer,
    MemoryCache,
    NotConfigured,
    ProviderSession,
    QuotaExhausted,
)
from lead_pipeline.providers.email_finders import (
    PersonQuery,
    configured_email_finders,
    find_email,
    verify_email,
)
from lead_pipeline_tests.providers.conftest import FAST_RETRY, use
from lead_pipeline_tests.servers import (
    HUNTER_KEY,
    PDL_KEY,
    ApolloServer,
    HunterServer,
    PdlServer,
    Reply,
)

ADA = PersonQuery("Ada Lovelace", "acme.com", company="Acme", linkedin_url=None)
PEOPLE = {("ada lovelace", "acme.com"): {"email": "ada@acme.com", "score": 94}}


@pytest.fixture(autouse=True)
def _no_finder_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HUNTER", "APOLLO", "PDL"):
        monkeypatch.delenv(f"{name}_API_KEY", raising=False)
        monkeypatch.delenv(f"{name}_BASE_URL", raising=False)


@pytest.fixture
def hunter(monkeypatch: pytest.MonkeyPatch) -> Iterator[HunterServer]:
    with HunterServer(PEOPLE) as server:
        use(monkeypatch, server)
        yield server


@pytest.fixture
def apollo(monkeypatch: pytest.MonkeyPatch) -> Iterator[ApolloServer]:
    with ApolloServer(PEOPLE) as server:
        use(monkeypatch, server)
        yield server


@pytest.fixture
def pdl(monkeypatch: pytest.MonkeyPatch) -> Iterator[PdlServer]:
    with PdlServer(PEOPLE) as server:
        use(monkeypatch, server)
        yield server


async def test_hunter_finds_with_the_key_in_its_header_never_the_url(
    hunter: HunterServer, session: ProviderSession
) -> None:
    response = await find_email(ADA, provider="hunter", session=session)
    assert response.data == {
        "email": "ada@acme.com",
        "confidence": 0.94,
        "source": "https://acme.com/team",
        "verification": None,
    }
    assert response.cost == pytest.approx(0.0245)
    (request,) = hunter.requests
    assert request.path == "/v2/email-finder"
    assert request.headers["x-api-key"] == HUNTER_KEY
    assert "api_key" not in request.query
    assert request.param("domain") == "acme.com"
    assert (request.param("first_name"), request.param("last_name")) == ("Ada", "Lovelace")


async def test_hunter_no_match_is_free_not_a_failure_and_cached(
    hunter: HunterServer,
) -> None:
    budget = Budget()
    async with ProviderSession(retry=FAST_RETRY, cache=MemoryCache(), budget=budget) as session:
        nobody = PersonQuery("Grace Hopper", "acme.com")
        first = await find_email(nobody, provider="hunter", session=session)
        again = await find_email(nobody, provider="hunter", session=session)
    assert first.data is None and first.cost == 0.0 and not first.cached
    assert again.data is None and again.cached
    assert hunter.count("/v2/email-finder") == 1
    assert budget.spent == 0.0


async def test_hunter_403_is_its_rate_limit_and_is_retried(
    hunter: HunterServer, session: ProviderSession
) -> None:
    hunter.script(Reply(status=403, json={"errors": [{"id": "too_many_requests", "code": 403}]}))
    response = await find_email(ADA, provider="hunter", session=session)
    assert response.data["email"] == "ada@acme.com"
    assert hunter.count("/v2/email-finder") == 2


async def test_hunter_429_usage_limit_is_not_retried(
    hunter: HunterServer, session: ProviderSession
) -> None:
    hunter.credits = 0
    with pytest.raises(QuotaExhausted, match="usage limit"):
        await find_email(ADA, provider="hunter", session=session)
    assert hunter.count("/v2/email-finder") == 1


async def test_a_wrong_key_is_an_auth_error_without_the_key(
    hunter: HunterServer, session: ProviderSession, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HUNTER_API_KEY", "wrong-hunter-key-abcdef")
    with pytest.raises(AuthError) as caught:
        await find_email(ADA, provider="hunter", session=session)
    assert "HUNTER_API_KEY" in str(caught.value)
    assert "wrong-hunter-key-abcdef" not in str(caught.value)  # the server echoed it


async def test_apollo_match_and_no_match(apollo: ApolloServer, session: ProviderSession) -> None:
    found = await find_email(ADA, provider="apollo", session=session)
    assert found.data["email"] == "ada@acme.com"
    assert found.data["source"].startswith("apollo:person/")
    assert found.cost == pytest.approx(0.20)
    nobody = await find_email(
        PersonQuery("Nobody Here", "acme.com"), provider="apollo", session=session
    )
    assert nobody.data is None and nobody.cost == 0.0
    request = apollo.requests[0]
    assert request.method == "POST" and request.path == "/api/v1/people/match"
    assert request.headers["x-api-key"] == apollo.api_key
    assert request.json["domain"] == "acme.com"
    assert request.json["reveal_personal_emails"] is False


async def test_pdl_404_is_no_match_and_not_charged(
    pdl: PdlServer, session: ProviderSession
) -> None:
    found = await find_email(ADA, provider="pdl", session=session)
    assert found.data["email"] == "ada@acme.com" and found.data["confidence"] == 0.8
    assert found.cost == pytest.approx(0.28)
    nobody = await find_email(
        PersonQuery("Nobody Here", "acme.com"), provider="pdl", session=session
    )
    assert nobody.data is None and nobody.cost == 0.0
    request = pdl.requests[0]
    assert request.path == "/v5/person/enrich"
    assert request.headers["x-api-key"] == PDL_KEY
    assert request.param("required") == "work_email"


async def test_pdl_spent_window_pauses_before_a_429(
    monkeypatch: pytest.MonkeyPatch, session: ProviderSession
) -> None:
    """``x-ratelimit-remaining: {"minute": 0}`` holds the next call until the reset."""
    with PdlServer(PEOPLE, per_window=1, window=0.5) as server:
        use(monkeypatch, server)
        first = await find_email(ADA, provider="pdl", session=session, use_cache=False)
        second = await find_email(ADA, provider="pdl", session=session, use_cache=False)
    assert first.data and second.data
    assert server.throttled == 0
    assert server.count("/v5/person/enrich") == 2


async def test_pdl_429_is_retried(pdl: PdlServer, session: ProviderSession) -> None:
    pdl.script(
        Reply(
            status=429,
            json={"status": 429, "error": {"type": "rate_limit_error", "message": "too quick"}},
            headers={"x-ratelimit-remaining": '{"minute": 0}', "Retry-After": "0.05"},
        )
    )
    found = await find_email(ADA, provider="pdl", session=session)
    assert found.data["email"] == "ada@acme.com"
    assert pdl.count("/v5/person/enrich") == 2


async def test_hunter_verifier(hunter: HunterServer, session: ProviderSession) -> None:
    hunter.verdicts["ada@acme.com"] = "invalid"
    response = await verify_email("ada@acme.com", session=session)
    assert response.data["status"] == "invalid"
    assert response.cost == pytest.approx(0.01225)
    assert hunter.requests[0].path == "/v2/email-verifier"


async def test_without_keys_nothing_is_configured(session: ProviderSession) -> None:
    assert configured_email_finders() == []
    with pytest.raises(NotConfigured, match="PDL_API_KEY"):
        await find_email(ADA, provider="pdl", session=session)


def _hunter_found(score: object) -> Reply:
    return Reply(json={"data": {"email": "ada@acme.com", "score": score, "sources": []}})


HOSTILE_HUNTER = {
    'a score of "5"': (
        _hunter_found("5"),
        "hunter: answer does not fit: data.score: Input should be a valid integer (got '5')",
    ),
    "a score of 400 digits": (
        _hunter_found(10**400),
        "hunter: answer does not fit: data.score: Input should be less than or equal to 100",
    ),
    "a score of -1": (
        _hunter_found(-1),
        "hunter: answer does not fit: data.score: Input should be greater than or equal to 0",
    ),
    "a score of 94.5": (
        _hunter_found(94.5),
        "hunter: answer does not fit: data.score: Input should be a valid integer",
    ),
    "a NaN score": (
        Reply(body=b'{"data": {"email": "ada@acme.com", "score": NaN}}'),
        "hunter: GET /v2/email-finder answered HTTP 200 with a body that is not JSON "
        "(NaN is not a finite number)",
    ),
    "a score of 1e400": (
        Reply(body=b'{"data": {"email": "ada@acme.com", "score": 1e400}}'),
        "hunter: GET /v2/email-finder answered HTTP 200 with a body that is not JSON "
        "(1e400 is not a finite number)",
    ),
    "an email that is an object": (
        Reply(json={"data": {"email": {"a": 1}, "score": 90}}),
        "hunter: answer does not fit: data.email: Input should be a valid string",
    ),
}


@pytest.mark.parametrize("reply, message", HOSTILE_HUNTER.values(), ids=HOSTILE_HUNTER)
async def test_a_hunter_answer_that_does_not_fit_fails_keeps_its_cost_and_is_not_cached(
    hunter: HunterServer, reply: Reply, message: str
) -> None:
    budget = Budget()
    cache = MemoryCache()
    hunter.script(reply)
    async with ProviderSession(retry=FAST_RETRY, cache=cache, budget=budget) as session:
        with pytest.raises(InvalidAnswer) as caught:
            await find_email(ADA, provider="hunter", session=session)
    assert str(caught.value).startswith(message), str(caught.value)
    assert len(str(caught.value)) < 300 and "\n" not in str(caught.value)
    # An address was found, so Hunter charged the search: the cost is kept.
    assert caught.value.cost == pytest.approx(0.0245)
    assert budget.spent == pytest.approx(0.0245)
    assert cache.entries == {}


async def test_a_hunter_error_body_with_a_200_is_an_error_and_free(
    hunter: HunterServer, session: ProviderSession
) -> None:
    hunter.script(Reply(json={"errors": [{"id": "wrong_params", "details": "no domain"}]}))
    with pytest.raises(InvalidAnswer, match=r"^hunter: answer does not fit: data: Field required"):
        await find_email(ADA, provider="hunter", session=session)


async def test_apollo_s_placeholder_at_the_company_s_own_domain_is_no_email(
    monkeypatch: pytest.MonkeyPatch, session: ProviderSession
) -> None:
    people = {("ada lovelace", "acme.com"): {"email": "email_not_unlocked@acme.com"}}
    with ApolloServer(people) as apollo:
        use(monkeypatch, apollo)
        response = await find_email(ADA, provider="apollo", session=session)
    assert response.data is None and response.cost == 0.0


async def test_apollo_answers_that_do_not_fit(
    apollo: ApolloServer, session: ProviderSession
) -> None:
    apollo.script(Reply(json={"error": "Something went wrong"}))
    with pytest.raises(InvalidAnswer, match=r"^apollo: answer does not fit: person: Field req"):
        await find_email(ADA, provider="apollo", session=session)
    apollo.script(Reply(json={"person": {"id": {"x": 1}, "email": "ada@acme.com"}}))
    with pytest.raises(InvalidAnswer, match=r"^apollo: answer does not fit: person\.id") as caught:
        await find_email(ADA, provider="apollo", session=session)
    assert caught.value.cost == pytest.approx(0.20)  # an address came back: a credit spent


async def test_pdl_answers_that_do_not_fit_keep_the_match_s_cost(
    pdl: PdlServer, session: ProviderSession
) -> None:
    for likelihood in ("8", 11, 10**400, True):
        pdl.script(Reply(json={"likelihood": likelihood, "data": {"work_email": "ada@acme.com"}}))
        with pytest.raises(InvalidAnswer, match=r"^pdl: answer does not fit: likelihood") as caught:
            await find_email(ADA, provider="pdl", session=session, use_cache=False)
        assert caught.value.cost == pytest.approx(0.28)
    # A plan without contact data sends true for an address it holds: no address, no guess.
    pdl.script(Reply(json={"likelihood": 8, "data": {"work_email": True}}))
    response = await find_email(ADA, provider="pdl", session=session, use_cache=False)
    assert response.data is None


async def test_a_verifier_answer_that_does_not_fit_is_an_error(
    hunter: HunterServer, session: ProviderSession
) -> None:
    hunter.script(Reply(json={"data": {"status": "probably", "score": 90}}))
    with pytest.raises(
        InvalidAnswer, match=r"^hunter: answer does not fit: data\.status"
    ) as caught:
        await verify_email("ada@acme.com", session=session)
    assert caught.value.cost == pytest.approx(0.01225)
