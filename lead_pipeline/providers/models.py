"""What every provider answer is parsed into: a strict pydantic model, once, at its module.

A provider's JSON is hostile input: an error body sent with a 200, ``organic`` as an
object, a score as the string ``"5"``, a token count of ``-3`` or with 400 digits, an id
that is an object. Each provider module declares the shape it relies on with these
types and calls :func:`parse_answer`; an answer that does not fit is an
:class:`InvalidAnswer` with one line naming the field, never an empty result, and
(raised before the policy stores anything) never cached. Strict means no coercion:
``"5"`` is not a number and ``true`` is not an integer. Fields the module does not read
are ignored, so a provider adding fields breaks nothing.

Numbers that price a call or pass a gate (token counts, scores, likelihoods) are
finite, non-negative and bounded by these types, before any arithmetic.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lead_pipeline.providers.answer import text_excerpt
from lead_pipeline.providers.errors import InvalidAnswer

# A provider's token count for one call: no model reads or writes a billion tokens at once.
MAX_TOKENS = 1_000_000_000

TokenCount = Annotated[int, Field(ge=0, le=MAX_TOKENS)]
Text = Annotated[str, Field(max_length=1_000_000)]


class Answer(BaseModel):
    """Base of every provider answer model: strict types, unknown fields ignored."""

    model_config = ConfigDict(strict=True, extra="ignore", frozen=True)


M = TypeVar("M", bound=BaseModel)


def _where(loc: tuple[Any, ...]) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "the answer"


def does_not_fit(exc: ValidationError) -> str:
    """The first problem of ``exc`` as ``field: what is wrong (got value)``, short."""
    first = exc.errors(include_url=False)[0]
    shown = repr(first.get("input"))
    shown = text_excerpt(shown, 60) + ("..." if len(shown) > 60 else "")
    message = str(first["msg"]).removeprefix("Value error, ")
    return f"{_where(tuple(first['loc']))}: {message} (got {shown})"


def parse_answer(model: type[M], data: Any, provider: str, *, cost: float = 0.0) -> M:
    """``data`` as ``model``, or :class:`InvalidAnswer` naming the first field that does
    not fit. ``cost`` is what the call that brought the answer was charged: it is paid
    whether or not the answer is usable."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidAnswer(
            f"{provider}: answer does not fit: {does_not_fit(exc)}", provider=provider, cost=cost
        ) from None


__all__ = ["MAX_TOKENS", "Answer", "Text", "TokenCount", "does_not_fit", "parse_answer"]
