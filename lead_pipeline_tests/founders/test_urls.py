"""Profile URLs: every spelling of one profile collapses to one string; nothing else passes."""

from __future__ import annotations

import pytest

from lead_pipeline.founders import canonical_profile_url, is_canonical_profile_url

CANONICAL = "https://www.linkedin.com/in/jane-doe"


@pytest.mark.parametrize(
    "url",
    [
        "https://www.linkedin.com/in/jane-doe",
        "https://www.linkedin.com/in/jane-doe/",
        "http://www.linkedin.com/in/jane-doe",
        "https://linkedin.com/in/jane-doe",
        "https://uk.linkedin.com/in/jane-doe",
        "https://de.linkedin.com/in/jane-doe/",
        "https://m.linkedin.com/in/jane-doe",
        "https://WWW.LinkedIn.COM/in/jane-doe",
        "https://www.linkedin.com./in/jane-doe",
        "https://www.linkedin.com:443/in/jane-doe",
        "https://www.linkedin.com/in/Jane-Doe",
        "https://www.linkedin.com/IN/jane-doe",
        "https://www.linkedin.com/in/jane-doe?trk=public_profile_browsemap",
        "https://www.linkedin.com/in/jane-doe?originalSubdomain=uk&trk=x#experience",
        "https://www.linkedin.com/in/jane-doe#about",
        "https://www.linkedin.com/in/jane-doe/de",
        "https://www.linkedin.com/in/jane-doe/recent-activity/",
        "https://www.linkedin.com/in/jane-doe/details/experience/",
        "https://www.linkedin.com//in//jane-doe//",
        "https://www.linkedin.com/mwlite/in/jane-doe",
        "https://www.linkedin.com/in/jane%2Ddoe",
        "www.linkedin.com/in/jane-doe",
        "linkedin.com/in/jane-doe/",
        "//www.linkedin.com/in/jane-doe",
        "  https://www.linkedin.com/in/jane-doe  ",
    ],
)
def test_spellings_of_one_profile_collapse_to_the_canonical_url(url: str) -> None:
    assert canonical_profile_url(url) == CANONICAL


@pytest.mark.parametrize(
    "url",
    [
        "https://www.linkedin.com/company/hyperspell",
        "https://www.linkedin.com/company/hyperspell/people/",
        "https://www.linkedin.com/pub/dir/Jane/Doe",
        "https://www.linkedin.com/pub/jane-doe/12/345/678",
        "https://www.linkedin.com/posts/jane-doe_launch-activity-7123456789",
        "https://www.linkedin.com/pulse/why-we-built-hyperspell-jane-doe",
        "https://www.linkedin.com/feed/update/urn:li:activity:7123456789/",
        "https://www.linkedin.com/school/stanford-university/",
        "https://www.linkedin.com/jobs/view/123456",
        "https://www.linkedin.com/showcase/acme-labs/",
        "https://www.linkedin.com/in/",
        "https://www.linkedin.com/in",
        "https://www.linkedin.com/",
        "https://www.linkedin.com/in/ab",
        "https://www.linkedin.com/in/" + "a" * 101,
        "https://www.linkedin.com/in/---",
        "https://www.linkedin.com/in/jane%2Fdoe",
        "https://www.linkedin.com/in/jane.doe",
        "https://www.linkedin.com/in/jane%20doe",
        "https://www.linkedin.com/in/%ff%fe",
        "https://www.linkedin.com/in/<script>",
        "https://linkedin.com.evil.io/in/jane-doe",
        "https://notlinkedin.com/in/jane-doe",
        "https://www.notlinkedin.com/in/jane-doe",
        "https://linkedin.co/in/jane-doe",
        "https://www.linkedin.cn/in/jane-doe",
        "https://evil.linkedin.com.io/in/jane-doe",
        "https://a.b.linkedin.com/in/jane-doe",
        "https://www.linkedin.com@evil.io/in/jane-doe",
        "https://evil.io@www.linkedin.com/in/jane-doe",
        "https://www.linkedin.com:8443/in/jane-doe",
        "https://www.linkedin.com:bad/in/jane-doe",
        "https://lnkd.in/abc123",
        "ftp://www.linkedin.com/in/jane-doe",
        "javascript:alert(1)//www.linkedin.com/in/jane-doe",
        "https://www.linkedin.com/in/jane doe",
        "https://www.linkedin.com\\in\\jane-doe",
        "",
        "   ",
    ],
)
def test_anything_but_a_persons_profile_is_refused(url: str) -> None:
    assert canonical_profile_url(url) is None


def test_non_strings_are_refused_not_raised() -> None:
    assert canonical_profile_url(None) is None  # type: ignore[arg-type]
    assert canonical_profile_url(42) is None  # type: ignore[arg-type]
    assert is_canonical_profile_url(None) is False  # type: ignore[arg-type]


def test_generated_slugs_keep_their_digits_and_underscores() -> None:
    url = "https://www.linkedin.com/in/jane_doe-4a7b12345/"
    assert canonical_profile_url(url) == "https://www.linkedin.com/in/jane_doe-4a7b12345"


def test_non_ascii_slugs_are_decoded_lowercased_and_re_encoded_uniformly() -> None:
    expected = "https://www.linkedin.com/in/j%C3%BCrgen-m%C3%BCller"
    spellings = [
        "https://de.linkedin.com/in/j%C3%BCrgen-m%C3%BCller",
        "https://de.linkedin.com/in/j%c3%bcrgen-m%c3%bcller/",
        "https://de.linkedin.com/in/J%C3%9Crgen-M%C3%BCller",
        "https://de.linkedin.com/in/Jürgen-Müller",
        # "u" followed by a combining diaeresis: the same name in decomposed form
        "https://de.linkedin.com/in/ju%CC%88rgen-mu%CC%88ller",
    ]
    assert {canonical_profile_url(url) for url in spellings} == {expected}


def test_the_result_is_plain_ascii_so_it_can_be_stored_and_compared_anywhere() -> None:
    url = canonical_profile_url("https://www.linkedin.com/in/张伟-12345")
    assert url == "https://www.linkedin.com/in/%E5%BC%A0%E4%BC%9F-12345"
    assert url.isascii()


def test_percent_decoding_happens_once() -> None:
    # %252F decodes to the literal text "%2F", which is not a slug character.
    assert canonical_profile_url("https://www.linkedin.com/in/jane%252Fdoe") is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (CANONICAL, True),
        ("https://www.linkedin.com/in/j%C3%BCrgen", True),
        ("https://www.linkedin.com/in/jane-doe/", False),
        ("https://uk.linkedin.com/in/jane-doe", False),
        ("https://www.linkedin.com/in/Jane-Doe", False),
        ("http://www.linkedin.com/in/jane-doe", False),
        ("https://www.linkedin.com/in/jane-doe?trk=x", False),
        ("https://www.linkedin.com/in/jürgen", False),
        ("https://www.linkedin.com/company/acme", False),
    ],
)
def test_is_canonical_only_for_the_exact_canonical_spelling(url: str, expected: bool) -> None:
    assert is_canonical_profile_url(url) is expected


def test_canonicalising_is_idempotent() -> None:
    for url in [
        "https://uk.linkedin.com/in/Jane-Doe/de?trk=x",
        "https://de.linkedin.com/in/Jürgen-Müller",
    ]:
        once = canonical_profile_url(url)
        assert once is not None
        assert canonical_profile_url(once) == once
        assert is_canonical_profile_url(once)
