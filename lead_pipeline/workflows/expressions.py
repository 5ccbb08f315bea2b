"""A small, safe expression language for ``where`` filters, ``when`` guards and computed columns.

Workflow files come from users, so nothing in them may reach Python's ``eval``
or ``ast``: text is tokenised and parsed here by a recursive-descent parser into
a tree of a dozen node kinds, then turned into closures once. There are no
attribute lookups, no subscripts, no calls other than a fixed list of functions,
and the input length and nesting depth are bounded, so an expression cannot do
anything but read the row's values and the workflow's parameters.

Grammar, loosest binding first::

    expr        := and_expr ("or" and_expr)*
    and_expr    := not_expr ("and" not_expr)*
    not_expr    := "not" not_expr | comparison
    comparison  := sum [ ("==" | "!=" | "<" | "<=" | ">" | ">=") sum
                       | ["not"] "in" sum
                       | "is" ["not"] "null" ]
    sum         := product (("+" | "-") product)*
    product     := unary (("*" | "/") unary)*
    unary       := ("-" | "+") unary | primary
    primary     := NUMBER | STRING | "true" | "false" | "null"
                 | "[" [expr ("," expr)*] "]"
                 | "params" "." NAME
                 | FUNCTION "(" [expr ("," expr)*] ")"
                 | NAME
                 | "(" expr ")"

Semantics, chosen for lead data (CSV text, sparse columns):

* A missing column reads as ``null``. Every comparison with ``null`` is false,
  ``!=`` and ``not in`` included; ``x == null`` / ``x != null`` mean
  ``x is null`` / ``x is not null``. Arithmetic with ``null`` gives ``null``.
* A number compared with (or added to) a numeric string uses the string's number,
  and a boolean compared with the strings ``"true"``/``"false"`` (any case) uses
  the string's boolean, because imported columns are text. Values of unrelated
  types are simply unequal; ordering them is false.
* ``and``/``or``/``not`` use truthiness: null, false, 0, empty text or list and
  the text ``"false"`` are false.
* ``x in [..]`` tests membership; ``x in 'text'`` tests for a substring.
* ``and``, ``or``, ``not``, ``in``, ``is``, ``null``, ``true``, ``false``, ``params``
  and Python's keywords are reserved, and no name may contain ``__``.
"""

from __future__ import annotations

import functools
import keyword
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from lead_pipeline.domains import host_of

__all__ = [
    "FUNCTIONS",
    "MAX_DEPTH",
    "MAX_LENGTH",
    "MAX_NUMBER_BITS",
    "MAX_TEXT_LENGTH",
    "Expression",
    "ExpressionError",
    "ExpressionEvaluationError",
    "compile_expression",
    "compile_where",
]

MAX_LENGTH = 2000
MAX_DEPTH = 32
# Bounds on what arithmetic may build from row values: no expression is a loop, but a
# product of products of a big number, or text added to itself, still grows fast.
MAX_NUMBER_BITS = 20_000  # about 6,000 decimal digits
MAX_TEXT_LENGTH = 1_000_000

_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "null", "true", "false", "params"})
# Python words that are never column names here: refusing them by name gives a
# far clearer message for ``import os`` or ``lambda: 1`` than a generic one.
_RESERVED = frozenset(keyword.kwlist) - _KEYWORDS
_PYTHON_LITERALS = {"True": "true", "False": "false", "None": "null"}
_COMPARISONS = frozenset({"==", "!=", "<", "<=", ">", ">="})

_TOKEN = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<number>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)
  | (?P<string>'(?:[^'\\\n]|\\.)*'|"(?:[^"\\\n]|\\.)*")
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>==|!=|<=|>=|<|>|\+|-|\*|/|\(|\)|\[|\]|,|\.)
    """,
    re.VERBOSE,
)
_ESCAPES = {"\\": "\\", "'": "'", '"': '"', "n": "\n", "t": "\t"}
_OPERATOR_HINTS = {
    "=": "use == to compare",
    "&": "use 'and'",
    "|": "use 'or'",
    "!": "use 'not' or !=",
    "%": "there is no modulo operator",
    "{": "dictionaries are not supported",
    "`": "backticks are not supported",
}


class ExpressionError(ValueError):
    """An expression that cannot be compiled, with where and why.

    ``column`` is 1-based (``None`` when the problem is the whole text);
    ``label`` says which field held the text (``where``, ``when``, ...).
    """

    def __init__(
        self,
        message: str,
        *,
        text: str,
        label: str,
        column: int | None = None,
        hint: str | None = None,
    ) -> None:
        self.message = message
        self.text = text
        self.label = label
        self.column = column
        self.hint = hint
        where = f" at column {column}" if column is not None else ""
        suffix = f" ({hint})" if hint else ""
        super().__init__(f"{message}{where} in {label}: {_excerpt(text, column)}{suffix}")


class ExpressionEvaluationError(ExpressionError):
    """A value the expression cannot work with, such as ``'abc' * 2`` or a division by zero."""


def _excerpt(text: str, column: int | None, width: int = 120) -> str:
    flat = text.replace("\n", " ")
    if len(flat) <= width:
        return flat
    centre = (column or 1) - 1
    start = max(0, min(centre - width // 2, len(flat) - width))
    head = "…" if start > 0 else ""
    tail = "…" if start + width < len(flat) else ""
    return f"{head}{flat[start : start + width]}{tail}"


# --------------------------------------------------------------------------- tokens


@dataclass(frozen=True, slots=True)
class _Token:
    kind: str  # number | string | name | op | bad | end
    value: Any
    pos: int  # 0-based offset into the text
    raw: str


def _tokenize(text: str, fail: Callable[..., ExpressionError]) -> list[_Token]:
    tokens: list[_Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            # Reported only if the parser gets this far, so that the first problem
            # in reading order is the one named (``lambda: 1`` is about ``lambda``).
            char = text[pos]
            problem: tuple[str, str | None]
            if char in "'\"":
                problem = ("unterminated string", None)
            else:
                problem = (f"unexpected character {char!r}", _OPERATOR_HINTS.get(char))
            tokens.append(_Token("bad", problem, pos, char))
            break
        kind = match.lastgroup or ""
        raw = match.group()
        if kind == "number":
            value: Any = float(raw) if any(c in raw for c in ".eE") else int(raw)
            tokens.append(_Token(kind, value, pos, raw))
        elif kind == "string":
            tokens.append(_Token(kind, _unescape(raw, pos, fail), pos, raw))
        elif kind != "ws":
            tokens.append(_Token(kind, raw, pos, raw))
        pos = match.end()
    tokens.append(_Token("end", None, len(text), ""))
    return tokens


def _unescape(raw: str, pos: int, fail: Callable[..., ExpressionError]) -> str:
    body = raw[1:-1]
    if "\\" not in body:
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\":
            escaped = body[i + 1]
            if escaped not in _ESCAPES:
                raise fail(f"unknown escape \\{escaped} in string", pos + 1 + i)
            out.append(_ESCAPES[escaped])
            i += 2
        else:
            out.append(char)
            i += 1
    return "".join(out)


# --------------------------------------------------------------------------- tree


@dataclass(frozen=True, slots=True)
class _Literal:
    value: Any
    pos: int


@dataclass(frozen=True, slots=True)
class _Column:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class _Param:
    name: str
    pos: int


@dataclass(frozen=True, slots=True)
class _List:
    items: tuple[Any, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class _Negate:
    operand: Any
    pos: int


@dataclass(frozen=True, slots=True)
class _Arithmetic:
    """``first op1 x1 op2 x2 ...``, evaluated left to right in a loop (no deep trees)."""

    first: Any
    rest: tuple[tuple[str, int, Any], ...]  # (operator, position, operand)
    pos: int


@dataclass(frozen=True, slots=True)
class _Compare:
    op: str
    left: Any
    right: Any
    pos: int


@dataclass(frozen=True, slots=True)
class _In:
    negated: bool
    left: Any
    right: Any
    pos: int


@dataclass(frozen=True, slots=True)
class _IsNull:
    negated: bool
    operand: Any
    pos: int


@dataclass(frozen=True, slots=True)
class _Logic:
    op: str  # and | or
    items: tuple[Any, ...]
    pos: int


@dataclass(frozen=True, slots=True)
class _Not:
    operand: Any
    pos: int


@dataclass(frozen=True, slots=True)
class _Call:
    name: str
    args: tuple[Any, ...]
    pos: int


# --------------------------------------------------------------------------- parser


class _Parser:
    def __init__(self, text: str, label: str) -> None:
        self.text = text
        self.label = label
        self.tokens = _tokenize(text, self.error)
        self.index = 0
        self.depth = 0

    def error(self, message: str, pos: int | None, hint: str | None = None) -> ExpressionError:
        column = None if pos is None else pos + 1
        return ExpressionError(message, text=self.text, label=self.label, column=column, hint=hint)

    # -- token helpers

    def peek(self, offset: int = 0) -> _Token:
        return self.tokens[min(self.index + offset, len(self.tokens) - 1)]

    def advance(self) -> _Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def at_op(self, *ops: str) -> bool:
        token = self.peek()
        return token.kind == "op" and token.value in ops

    def at_word(self, word: str, offset: int = 0) -> bool:
        token = self.peek(offset)
        return token.kind == "name" and token.value == word

    def expect_op(self, op: str, context: str) -> _Token:
        if not self.at_op(op):
            raise self.unexpected(self.peek(), hint=f"expected {op!r} {context}")
        return self.advance()

    def unexpected(self, token: _Token, hint: str | None = None) -> ExpressionError:
        if token.kind == "bad":
            message, own_hint = token.value
            return self.error(message, token.pos, own_hint)
        if token.kind == "end":
            return self.error("unexpected end of expression", token.pos, hint)
        return self.error(f"unexpected {token.raw!r}", token.pos, hint)

    def enter(self, token: _Token) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"expression nests deeper than {MAX_DEPTH} levels", token.pos)

    def leave(self) -> None:
        self.depth -= 1

    # -- grammar

    def parse(self) -> Any:
        node = self.parse_or()
        token = self.peek()
        if token.kind != "end":
            hint = None
            if token.kind == "op" and token.value == ".":
                hint = "attribute access is not allowed; only params.NAME"
            elif token.kind == "op" and token.value == "[":
                hint = "indexing is not allowed"
            elif token.kind == "op" and token.value == "(":
                hint = "only the listed functions can be called"
            elif token.kind == "op" and token.value in _COMPARISONS:
                hint = "comparisons cannot be chained; combine them with 'and'"
            elif token.kind in {"name", "number", "string"}:
                hint = "an operator such as ==, and, or is missing"
            raise self.unexpected(token, hint)
        return node

    def parse_or(self) -> Any:
        first = self.peek()
        items = [self.parse_and()]
        while self.at_word("or"):
            self.advance()
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else _Logic("or", tuple(items), first.pos)

    def parse_and(self) -> Any:
        first = self.peek()
        items = [self.parse_not()]
        while self.at_word("and"):
            self.advance()
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else _Logic("and", tuple(items), first.pos)

    def parse_not(self) -> Any:
        if self.at_word("not"):
            token = self.advance()
            self.enter(token)
            operand = self.parse_not()
            self.leave()
            return _Not(operand, token.pos)
        return self.parse_comparison()

    def parse_comparison(self) -> Any:
        left = self.parse_sum()
        token = self.peek()
        node: Any
        if token.kind == "op" and token.value in _COMPARISONS:
            self.advance()
            right = self.parse_sum()
            null_left = isinstance(left, _Literal) and left.value is None
            null_right = isinstance(right, _Literal) and right.value is None
            if token.value in {"==", "!="} and (null_left or null_right):
                operand = left if null_right else right
                node = _IsNull(token.value == "!=", operand, token.pos)
            else:
                node = _Compare(token.value, left, right, token.pos)
        elif self.at_word("in"):
            self.advance()
            node = _In(False, left, self.parse_sum(), token.pos)
        elif self.at_word("not") and self.at_word("in", 1):
            self.advance()
            self.advance()
            node = _In(True, left, self.parse_sum(), token.pos)
        elif self.at_word("is"):
            self.advance()
            negated = self.at_word("not")
            if negated:
                self.advance()
            if not self.at_word("null"):
                raise self.unexpected(self.peek(), hint="'is' must be followed by null or not null")
            self.advance()
            node = _IsNull(negated, left, token.pos)
        else:
            return left
        after = self.peek()
        if (after.kind == "op" and after.value in _COMPARISONS) or (
            after.kind == "name" and after.value in {"in", "is"}
        ):
            raise self.unexpected(after, "comparisons cannot be chained; combine them with 'and'")
        return node

    def parse_sum(self) -> Any:
        return self._chain(self.parse_product, ("+", "-"))

    def parse_product(self) -> Any:
        return self._chain(self.parse_unary, ("*", "/"))

    def _chain(self, operand: Callable[[], Any], ops: tuple[str, ...]) -> Any:
        start = self.peek()
        first = operand()
        rest: list[tuple[str, int, Any]] = []
        while self.at_op(*ops):
            token = self.advance()
            rest.append((token.value, token.pos, operand()))
        return first if not rest else _Arithmetic(first, tuple(rest), start.pos)

    def parse_unary(self) -> Any:
        if self.at_op("-", "+"):
            token = self.advance()
            self.enter(token)
            operand = self.parse_unary()
            self.leave()
            if token.value == "+":
                return _Negate(_Negate(operand, token.pos), token.pos)
            if isinstance(operand, _Literal) and _is_number(operand.value):
                return _Literal(-operand.value, token.pos)
            return _Negate(operand, token.pos)
        return self.parse_primary()

    def parse_primary(self) -> Any:
        token = self.peek()
        if token.kind in {"number", "string"}:
            self.advance()
            return _Literal(token.value, token.pos)
        if token.kind == "op" and token.value == "(":
            self.advance()
            self.enter(token)
            node = self.parse_or()
            self.leave()
            self.expect_op(")", "to close the parenthesis")
            return node
        if token.kind == "op" and token.value == "[":
            self.advance()
            self.enter(token)
            items = self._items("]", "to close the list")
            self.leave()
            return _List(tuple(items), token.pos)
        if token.kind == "name":
            return self._name(token)
        raise self.unexpected(token)

    def _items(self, close: str, context: str) -> list[Any]:
        items: list[Any] = []
        if self.at_op(close):
            self.advance()
            return items
        while True:
            items.append(self.parse_or())
            if self.at_op(","):
                self.advance()
                continue
            self.expect_op(close, context)
            return items

    def _name(self, token: _Token) -> Any:
        name = token.value
        if name in {"true", "false", "null"}:
            self.advance()
            return _Literal({"true": True, "false": False, "null": None}[name], token.pos)
        if "__" in name:
            raise self.unexpected(token, "names containing '__' are not allowed")
        if name in _PYTHON_LITERALS:
            raise self.unexpected(token, f"write {_PYTHON_LITERALS[name]}")
        if name in _RESERVED:
            raise self.unexpected(token, f"{name!r} is not part of the expression language")
        if name in _KEYWORDS and name != "params":
            raise self.unexpected(token)
        self.advance()
        if name == "params":
            if not self.at_op("."):
                raise self.unexpected(
                    self.peek(), hint="write params.NAME for a workflow parameter"
                )
            self.advance()
            field = self.peek()
            if field.kind != "name" or "__" in field.value or field.value in _KEYWORDS:
                raise self.unexpected(field, hint="write params.NAME for a workflow parameter")
            self.advance()
            self._no_postfix()
            return _Param(field.value, token.pos)
        if self.at_op("("):
            spec = FUNCTIONS.get(name)
            if spec is None:
                raise self.error(
                    f"unknown function {name!r}",
                    token.pos,
                    hint=f"allowed functions: {', '.join(sorted(FUNCTIONS))}",
                )
            open_paren = self.advance()
            self.enter(open_paren)
            args = self._items(")", f"to close the call to {name}")
            self.leave()
            low, high = spec.arity
            if not low <= len(args) <= (high if high is not None else len(args)):
                raise self.error(f"{name}() takes {spec.arity_text}, got {len(args)}", token.pos)
            self._no_postfix()
            return _Call(name, tuple(args), token.pos)
        self._no_postfix()
        return _Column(name, token.pos)

    def _no_postfix(self) -> None:
        if self.at_op("."):
            raise self.unexpected(self.peek(), "attribute access is not allowed; only params.NAME")
        if self.at_op("["):
            raise self.unexpected(self.peek(), "indexing is not allowed")


# --------------------------------------------------------------------------- values


class _EvalError(Exception):
    def __init__(self, message: str, pos: int) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


_NUMERIC_TEXT = re.compile(r"\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*\Z")
_INTEGER_TEXT = re.compile(r"\s*[+-]?\d+\s*\Z")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _as_number(value: Any) -> int | float | None:
    if _is_number(value):
        return value
    if isinstance(value, str) and len(value) <= 64 and _NUMERIC_TEXT.match(value):
        return int(value) if _INTEGER_TEXT.match(value) else float(value)
    return None


def _as_bool_text(value: str) -> bool | None:
    lowered = value.strip().lower()
    return True if lowered == "true" else False if lowered == "false" else None


def _align(a: Any, b: Any) -> tuple[Any, Any] | None:
    """Bring two non-null values to one comparable type, or ``None`` when they have none."""
    if isinstance(a, bool) or isinstance(b, bool):
        if isinstance(a, bool) and isinstance(b, bool):
            return a, b
        if isinstance(a, str):
            a = _as_bool_text(a)
        elif isinstance(b, str):
            b = _as_bool_text(b)
        return (a, b) if isinstance(a, bool) and isinstance(b, bool) else None
    if _is_number(a) or _is_number(b):
        a, b = _as_number(a), _as_number(b)
        return None if a is None or b is None else (a, b)
    if isinstance(a, str) and isinstance(b, str):
        return a, b
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return list(a), list(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a, b
    return None


def _equal(a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    pair = _align(a, b)
    if pair is None:
        return False
    if isinstance(pair[0], list):
        return len(pair[0]) == len(pair[1]) and all(
            _equal(x, y) for x, y in zip(pair[0], pair[1], strict=True)
        )
    return bool(pair[0] == pair[1])


def _ordered(op: str, a: Any, b: Any) -> bool:
    if a is None or b is None:
        return False
    pair = _align(a, b)
    if pair is None or not (_is_number(pair[0]) or isinstance(pair[0], str)):
        return False
    x, y = pair
    if op == "<":
        return bool(x < y)
    if op == "<=":
        return bool(x <= y)
    if op == ">":
        return bool(x > y)
    return bool(x >= y)


def _truthy(value: Any) -> bool:
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str):
        as_bool = _as_bool_text(value)
        return as_bool if as_bool is not None else value != ""
    if _is_number(value):
        return value != 0
    if isinstance(value, list | tuple | dict):
        return len(value) > 0
    return True


def _member(item: Any, container: Any) -> bool:
    if isinstance(container, list | tuple):
        return any(_equal(item, candidate) for candidate in container)
    if isinstance(container, str) and isinstance(item, str):
        return item in container
    return False


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if _is_number(value):
        return "number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list | tuple):
        return "list"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _arith(op: str, a: Any, b: Any, pos: int) -> Any:
    if a is None or b is None:
        return None
    if op == "+" and isinstance(a, str) and isinstance(b, str):
        if len(a) + len(b) > MAX_TEXT_LENGTH:
            raise _EvalError(f"text longer than {MAX_TEXT_LENGTH:,} characters", pos)
        return a + b
    x, y = _as_number(a), _as_number(b)
    if x is None or y is None:
        verb = {"+": "add", "-": "subtract", "*": "multiply", "/": "divide"}[op]
        raise _EvalError(f"cannot {verb} {_type_name(a)} and {_type_name(b)}", pos)
    for number in (x, y):
        if isinstance(number, int) and number.bit_length() > MAX_NUMBER_BITS:
            raise _EvalError(f"a number larger than {MAX_NUMBER_BITS:,} bits", pos)
    if (
        op == "*"
        and isinstance(x, int)
        and isinstance(y, int)
        and x.bit_length() + y.bit_length() > MAX_NUMBER_BITS
    ):
        raise _EvalError(f"a product larger than {MAX_NUMBER_BITS:,} bits", pos)
    try:
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if y == 0:
            raise _EvalError("division by zero", pos)
        return x / y
    except OverflowError:
        raise _EvalError("the result is too large for a number", pos) from None


# --------------------------------------------------------------------------- functions


@dataclass(frozen=True)
class _Function:
    arity: tuple[int, int | None]
    call: Callable[[list[Any], int], Any]

    @property
    def arity_text(self) -> str:
        low, high = self.arity
        if high == low:
            return f"{low} argument{'s' if low != 1 else ''}"
        if high is None:
            return f"at least {low} arguments"
        return f"{low} to {high} arguments"


def _text_case(method: str) -> Callable[[list[Any], int], Any]:
    def call(args: list[Any], pos: int) -> Any:
        (value,) = args
        if value is None:
            return None
        if isinstance(value, str):
            return getattr(value, method)()
        if _is_number(value):
            return str(value)
        raise _EvalError(f"{method}() needs text, got {_type_name(value)}", pos)

    return call


def _len(args: list[Any], pos: int) -> Any:
    (value,) = args
    if value is None:
        return None
    if isinstance(value, str | list | tuple | dict):
        return len(value)
    raise _EvalError(f"len() needs text or a list, got {_type_name(value)}", pos)


def _coalesce(args: list[Any], pos: int) -> Any:
    # Empty text counts as missing: an empty CSV cell is no more a value than an absent one.
    return next((value for value in args if value is not None and value != ""), None)


def _scalar_text(value: Any) -> str | None:
    if isinstance(value, str):
        return value
    if _is_number(value):
        return str(value)
    return None


def _contains(args: list[Any], pos: int) -> Any:
    haystack, needle = args
    if haystack is None or needle is None:
        return False
    if isinstance(haystack, list | tuple):
        return any(_equal(item, needle) for item in haystack)
    text, part = _scalar_text(haystack), _scalar_text(needle)
    return text is not None and part is not None and part in text


def _startswith(args: list[Any], pos: int) -> Any:
    text, prefix = (_scalar_text(a) for a in args)
    return text is not None and prefix is not None and text.startswith(prefix)


def _domain(args: list[Any], pos: int) -> Any:
    return host_of(args[0])


def _round(args: list[Any], pos: int) -> Any:
    value = args[0]
    if value is None:
        return None
    number = _as_number(value)
    if number is None:
        raise _EvalError(f"round() needs a number, got {_type_name(value)}", pos)
    if len(args) == 1:
        return round(number)
    digits = args[1]
    if not isinstance(digits, int) or isinstance(digits, bool) or not 0 <= digits <= 15:
        raise _EvalError("round()'s second argument must be a whole number from 0 to 15", pos)
    return round(number, digits)


FUNCTIONS: Mapping[str, _Function] = {
    "coalesce": _Function((1, None), _coalesce),
    "contains": _Function((2, 2), _contains),
    "domain": _Function((1, 1), _domain),
    "len": _Function((1, 1), _len),
    "lower": _Function((1, 1), _text_case("lower")),
    "round": _Function((1, 2), _round),
    "startswith": _Function((2, 2), _startswith),
    "upper": _Function((1, 1), _text_case("upper")),
}


# --------------------------------------------------------------------------- closures

_Eval = Callable[[Mapping[str, Any], Mapping[str, Any]], Any]


def _build(node: Any) -> _Eval:
    if isinstance(node, _Literal):
        value = node.value
        return lambda v, p: value
    if isinstance(node, _Column):
        name = node.name
        return lambda v, p: v.get(name)
    if isinstance(node, _Param):
        name = node.name
        return lambda v, p: p.get(name)
    if isinstance(node, _List):
        items = [_build(item) for item in node.items]
        return lambda v, p: [item(v, p) for item in items]
    if isinstance(node, _Negate):
        operand, pos = _build(node.operand), node.pos

        def negate(v: Mapping[str, Any], p: Mapping[str, Any]) -> Any:
            value = operand(v, p)
            if value is None:
                return None
            number = _as_number(value)
            if number is None:
                raise _EvalError(f"cannot negate {_type_name(value)}", pos)
            return -number

        return negate
    if isinstance(node, _Arithmetic):
        first = _build(node.first)
        rest = [(op, pos, _build(operand)) for op, pos, operand in node.rest]

        def arithmetic(v: Mapping[str, Any], p: Mapping[str, Any]) -> Any:
            result = first(v, p)
            for op, pos, operand in rest:
                result = _arith(op, result, operand(v, p), pos)
            return result

        return arithmetic
    if isinstance(node, _Compare):
        left, right, op = _build(node.left), _build(node.right), node.op
        if op == "==":
            return lambda v, p: _equal(left(v, p), right(v, p))
        if op == "!=":

            def not_equal(v: Mapping[str, Any], p: Mapping[str, Any]) -> bool:
                a, b = left(v, p), right(v, p)
                return a is not None and b is not None and not _equal(a, b)

            return not_equal
        return lambda v, p: _ordered(op, left(v, p), right(v, p))
    if isinstance(node, _In):
        left, right, negated = _build(node.left), _build(node.right), node.negated

        def member(v: Mapping[str, Any], p: Mapping[str, Any]) -> bool:
            item, container = left(v, p), right(v, p)
            if item is None or container is None:
                return False
            return _member(item, container) != negated

        return member
    if isinstance(node, _IsNull):
        operand, negated = _build(node.operand), node.negated
        return lambda v, p: (operand(v, p) is None) != negated
    if isinstance(node, _Logic):
        items = [_build(item) for item in node.items]
        if node.op == "and":
            return lambda v, p: all(_truthy(item(v, p)) for item in items)
        return lambda v, p: any(_truthy(item(v, p)) for item in items)
    if isinstance(node, _Not):
        operand = _build(node.operand)
        return lambda v, p: not _truthy(operand(v, p))
    if isinstance(node, _Call):
        args = [_build(arg) for arg in node.args]
        call, pos = FUNCTIONS[node.name].call, node.pos
        return lambda v, p: call([arg(v, p) for arg in args], pos)
    raise TypeError(f"unknown expression node {node!r}")  # pragma: no cover - parser bug


def _names(node: Any, kind: type[Any]) -> frozenset[str]:
    found: set[str] = set()
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, kind):
            found.add(current.name)
        for attr in ("operand", "left", "right", "first"):
            child = getattr(current, attr, None)
            if child is not None:
                stack.append(child)
        for attr in ("items", "args"):
            stack.extend(getattr(current, attr, ()))
        stack.extend(operand for _, _, operand in getattr(current, "rest", ()))
    return frozenset(found)


# --------------------------------------------------------------------------- public API

_EMPTY: Mapping[str, Any] = {}


class Expression:
    """A compiled expression: evaluate it against a row's values as often as needed.

    Instances are immutable and cached by text, so compiling the same text for
    every row costs one dictionary lookup.
    """

    __slots__ = ("_fn", "columns", "label", "params", "predicate", "text")

    def __init__(self, text: str, label: str, tree: Any, *, predicate: bool) -> None:
        self.text = text
        self.label = label
        self.predicate = predicate
        self.columns: frozenset[str] = _names(tree, _Column)
        self.params: frozenset[str] = _names(tree, _Param)
        self._fn = _build(tree)

    def evaluate(self, values: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> Any:
        """The expression's value for one row; a predicate (``compile_where``) gives a bool.

        A value expression raises :class:`ExpressionEvaluationError` on values it
        cannot combine (``'abc' - 1``, a division by zero). A predicate never
        raises on data: a row it cannot judge does not match, so one odd cell
        cannot stop a whole run.
        """
        try:
            result = self._fn(values, params if params is not None else _EMPTY)
        except _EvalError as exc:
            if self.predicate:
                return False
            raise ExpressionEvaluationError(
                exc.message, text=self.text, label=self.label, column=exc.pos + 1
            ) from None
        return _truthy(result) if self.predicate else result

    __call__ = evaluate

    def __repr__(self) -> str:
        kind = "where" if self.predicate else "expression"
        return f"<{kind} {self.text!r}>"


def _parse(text: str, label: str) -> Any:
    if not isinstance(text, str):
        raise ExpressionError(
            f"expected text, got {type(text).__name__}", text=str(text)[:200], label=label
        )
    if len(text) > MAX_LENGTH:
        raise ExpressionError(
            f"expression is {len(text)} characters long, more than the {MAX_LENGTH} allowed",
            text=text,
            label=label,
        )
    if not text.strip():
        raise ExpressionError("expression is empty", text=text, label=label)
    return _Parser(text, label).parse()


_NOT_A_CONDITION = (_Arithmetic, _Negate, _List)


@functools.lru_cache(maxsize=2048)
def compile_expression(text: str, *, label: str = "expression") -> Expression:
    """Compile a value expression (a computed column). Raises :class:`ExpressionError`."""
    return Expression(text, label, _parse(text, label), predicate=False)


@functools.lru_cache(maxsize=2048)
def compile_where(text: str, *, label: str = "where") -> Expression:
    """Compile a row filter whose ``evaluate`` returns a bool. Raises :class:`ExpressionError`.

    A filter that can only ever produce a number, text or list (``price * 2``)
    is refused: it is almost certainly a mistake for a comparison.
    """
    tree = _parse(text, label)
    if isinstance(tree, _NOT_A_CONDITION) or (
        isinstance(tree, _Literal) and not isinstance(tree.value, bool)
    ):
        raise ExpressionError(
            "a filter must be a condition such as `x == 1` or `y is not null`",
            text=text,
            label=label,
            column=tree.pos + 1,
        )
    return Expression(text, label, tree, predicate=True)
