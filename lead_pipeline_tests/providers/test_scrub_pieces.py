"""The scrubber leaves no 8-character piece of a key, wherever texts cut and join keys.

The scan probes every fourth position of the runs of the keys' own characters; this
builds thousands of texts out of pieces of keys (any length, any place, any case, glued
to each other and to filler made of the same characters) and checks that nothing of 8
characters or more of any key is left, and that text holding none is left as it was.
"""

from __future__ import annotations

import random

import pytest

from lead_pipeline.providers.redact import MASK, has_secret, scrub, secrets_index

KEYS = {
    "OPENAI_API_KEY": "sk-proj-7c1e9a3f5b2d408612ab",
    "SERPER_API_KEY": "3a7f1c9e5b2d80463a7f1c9e5b2d8046",
    "HUBSPOT_ACCESS_TOKEN": "pat-na1-6b2f8d4a-1c9e-3075",
}


@pytest.fixture(autouse=True)
def _keys(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in KEYS.items():
        monkeypatch.setenv(name, value)


def test_no_piece_of_8_characters_survives_any_cut_or_join() -> None:
    rng = random.Random(20)
    filler = "0123456789abcdef-_"  # the keys' own characters: the hardest neighbours
    for _ in range(3000):
        parts = []
        for _ in range(rng.randint(1, 6)):
            if rng.random() < 0.5:
                key = rng.choice(list(KEYS.values()))
                start = rng.randint(0, len(key) - 1)
                piece = key[start : rng.randint(start, len(key))]
                parts.append(piece.upper() if rng.random() < 0.2 else piece)
            else:
                parts.append("".join(rng.choice(filler) for _ in range(rng.randint(0, 12))))
        text = "".join(parts)
        left = scrub(text).lower()
        for key in KEYS.values():
            pieces = {key[i : i + 8] for i in range(len(key) - 7)}
            assert not [p for p in pieces if p in left], (text, left)
        assert has_secret(text, secrets_index()) == (scrub(text) != text)


def test_text_without_a_key_is_left_as_it_was() -> None:
    text = "HTTP 500 from serper: upstream failed for Acme (row acme.com) 3f9a3f9a b07c"
    assert scrub(text) == text and not has_secret(text, secrets_index())
    assert scrub(f"token {KEYS['HUBSPOT_ACCESS_TOKEN']} refused") == f"token {MASK} refused"
