"""Sandboxed Jinja2 templates for the templated fields of nodes: prompts, URLs, headers, bodies.

Workflow files are user input, so templates run in Jinja's immutable sandbox,
and on top of it every template is checked once when it is compiled: access to
any name starting with ``_`` (the road to ``__globals__``, ``__subclasses__``
and friends), ``include``/``import``/``extends`` and the ``attr`` filter with
such a name are refused before the template can ever run. What the static check
cannot see (a key computed at render time) the sandbox refuses at render time;
both surface as :class:`TemplateError`.

Row values are data, never templates: a cell containing ``{{ ... }}`` is output
as text, not evaluated. ``None`` renders as an empty string, because a prompt or
URL saying "None" is never what a workflow author meant. Templates are compiled
once and cached by their text, since the same few templates render for
thousands of rows.
"""

from __future__ import annotations

import contextvars
import functools
import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, cast
from urllib.parse import quote

import jinja2
import jinja2.meta
from jinja2 import nodes
from jinja2.environment import TemplateExpression
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from jinja2.visitor import NodeTransformer

from lead_pipeline.domains import host_of

__all__ = [
    "MAX_TEMPLATE_LENGTH",
    "Template",
    "TemplateError",
    "UrlTemplate",
    "compile_template",
    "compile_url_template",
    "is_template",
    "render",
    "render_value",
    "template_strings",
]

MAX_TEMPLATE_LENGTH = 20_000
# Bounds on the two operators that can allocate without limit from a short text.
MAX_REPEAT_LENGTH = 100_000
MAX_EXPONENT = 64
# What one rendering of one field may cost, whatever the template does (see _Budget).
MAX_RENDER_SECONDS = 2.0
MAX_RENDERED_CHARS = 1_000_000  # the rendered field, and any one value built on the way
MAX_WORK_CHARS = 20_000_000  # every value built while rendering, added up
MAX_INT_BITS = 20_000  # about 6,000 decimal digits
_MARKERS = ("{{", "{%", "{#")
_SINGLE_EXPRESSION = re.compile(r"\A\{\{(?P<body>.*)\}\}\Z", re.DOTALL)
_FORBIDDEN_TAGS: dict[type[nodes.Node], str] = {
    nodes.Include: "include",
    nodes.Import: "import",
    nodes.FromImport: "import",
    nodes.Extends: "extends",
}


class TemplateError(ValueError):
    """A template that does not compile, tries to leave the sandbox, or cannot render a row."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        self.message = message
        self.line = line
        super().__init__(f"template line {line}: {message}" if line else message)


def _tojson(value: Any, indent: int | None = None) -> str:
    # Jinja's own tojson escapes <, > and & for HTML; bodies and prompts need plain JSON.
    return json.dumps(value, ensure_ascii=False, default=str, indent=indent)


def _truncate_words(value: Any, count: int = 50, end: str = "…") -> str:
    if value is None:
        return ""
    words = str(value).split()
    if len(words) <= count:
        return " ".join(words)
    return " ".join(words[:count]) + end


def _domain(value: Any) -> str:
    return host_of(value) or ""


def _url_component(value: Any) -> str:
    """A value as one URL component: every character that could end it (``/ ? # @ &``, CR,
    LF, ``%``) is percent-encoded, so ``../admin`` stays one path segment. A value of only
    dots is refused: ``.`` and ``..`` are path steps that every URL parser resolves."""
    if value is None:
        return ""
    text = str(value)
    if text and not text.strip("."):
        raise SecurityError(f"a URL value of {text[:10]!r} would climb the URL's path")
    return quote(text, safe="")


class _Budget:
    """What one rendering may still spend: time, and characters of values it builds.

    A thread cannot be stopped from outside, so the work itself is bounded: every loop step,
    call, filter, operator and output piece passes through a hook that charges the size of
    what it built and checks the clock. Operations whose result size a short text controls
    (``'%999999999s'|format``, ``center(10**9)``, ``join``, ``replace``, ``**``) are checked
    *before* they run; the rest are at most a small multiple of inputs that were checked.
    """

    __slots__ = ("chars_left", "deadline", "steps")

    def __init__(self) -> None:
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS
        self.chars_left = MAX_WORK_CHARS
        self.steps = 0

    def tick(self) -> None:
        self.steps += 1
        if self.steps % 64 == 0 and time.monotonic() > self.deadline:
            raise SecurityError(
                f"rendering took more than {MAX_RENDER_SECONDS:g}s (a loop too large?)"
            )

    def charge(self, value: Any) -> Any:
        size = _size(value)
        if size > MAX_RENDERED_CHARS:
            raise SecurityError(
                f"a value of {size:,} characters or items is larger than the "
                f"{MAX_RENDERED_CHARS:,} allowed"
            )
        self.chars_left -= size
        if self.chars_left < 0:
            raise SecurityError(
                f"rendering built more than {MAX_WORK_CHARS:,} characters of values"
            )
        self.tick()
        return value


_BUDGET: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar(
    "template_budget", default=None
)


def _spend(value: Any) -> Any:
    budget = _BUDGET.get()
    if budget is None:  # outside render(): still refuse oversized values
        budget = _Budget()
    return budget.charge(value)


def _size(value: Any) -> int:
    if isinstance(value, str | bytes | list | tuple | dict | set | frozenset):
        return len(value)
    if isinstance(value, int) and not isinstance(value, bool):
        bits = value.bit_length()
        if bits > MAX_INT_BITS:
            raise SecurityError(f"a number of {bits:,} bits is larger than {MAX_INT_BITS:,}")
        return bits // 8
    return 1


def _refuse_size(size: int, what: str) -> None:
    if size > MAX_RENDERED_CHARS:
        raise SecurityError(
            f"{what} would build {size:,} characters, more than the {MAX_RENDERED_CHARS:,} allowed"
        )


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


_PERCENT_SPEC = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")
_FORMAT_SPEC = re.compile(r"\{[^{}]*?:([^{}]*(?:\{[^{}]*\}[^{}]*)*)\}")
_DIGITS = re.compile(r"\d+")


def _check_format(fmt: Any, args: tuple[Any, ...], kwargs: dict[str, Any], style: str) -> None:
    """Refuse a ``%`` or ``str.format`` format whose widths or precisions would pad a value
    to more than the allowed size; a width taken from an argument counts too."""
    if not isinstance(fmt, str):
        return
    numbers: list[int] = []
    starred = False
    if style == "%":
        for match in _PERCENT_SPEC.finditer(fmt):
            for part in match.groups():
                if part == "*":
                    starred = True
                elif part:
                    numbers.append(int(part))
    else:
        for match in _FORMAT_SPEC.finditer(fmt):
            spec = match.group(1)
            starred = starred or "{" in spec
            numbers += [int(d) for d in _DIGITS.findall(spec)]
    if starred:
        flat = args[0] if len(args) == 1 and isinstance(args[0], tuple | list) else args
        numbers += [n for n in (*flat, *kwargs.values()) if _int(n) is not None]
    if numbers:
        _refuse_size(max(numbers), "formatting")


def _check_replace(text: Any, old: Any, new: Any, count: Any = None) -> None:
    if not (isinstance(text, str) and isinstance(old, str) and isinstance(new, str)):
        return
    hits = len(text) + 1 if old == "" else text.count(old)
    if _int(count) is not None and count >= 0:
        hits = min(hits, count)
    _refuse_size(len(text) + hits * max(len(new) - len(old), 0), "replace()")


def _check_join(items: list[Any], separator: Any) -> None:
    sep = len(separator) if isinstance(separator, str) else 0
    total = sum(len(i) if isinstance(i, str) else 20 for i in items)
    _refuse_size(total + sep * max(len(items) - 1, 0), "join()")


def _check_width(width: Any, what: str) -> None:
    if _int(width) is not None:
        _refuse_size(width, what)


_STR_METHOD_CHECKS: dict[str, Callable[..., None]] = {
    "center": lambda s, width, *a: _check_width(width, "center()"),
    "ljust": lambda s, width, *a: _check_width(width, "ljust()"),
    "rjust": lambda s, width, *a: _check_width(width, "rjust()"),
    "zfill": lambda s, width: _check_width(width, "zfill()"),
    "expandtabs": lambda s, tabsize=8: _check_width(
        len(s) + s.count("\t" if isinstance(s, str) else b"\t") * (_int(tabsize) or 0),
        "expandtabs()",
    ),
    "replace": lambda s, old, new, count=-1: _check_replace(s, old, new, count),
}


def _budget_iter(iterable: Any) -> Iterator[Any]:
    """Every loop of a template iterates through this: a step of the budget per item."""
    budget = _BUDGET.get() or _Budget()
    for item in iterable:
        budget.tick()
        yield item


def _concat(items: list[Any]) -> str:
    """``a ~ b``: built only once the result is known to fit."""
    parts = [str(item) for item in items]
    _refuse_size(sum(map(len, parts)), "joining with ~")
    return _spend("".join(parts))


def _budgeted_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """``func`` (a Jinja filter) with its size checks, and its result charged."""
    passes = getattr(func, "jinja_pass_arg", None) is not None

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        skip = 1 if passes else 0
        if name == "join" and len(args) > skip and not isinstance(args[skip], str):
            # Materialised once, so the size check sees a range or generator too.
            args = (*args[:skip], list(_budget_iter(args[skip])), *args[skip + 1 :])
        _check_filter(name, args[skip:], kwargs)
        result = func(*args, **kwargs)
        return result if isinstance(result, Iterator) else _spend(result)

    return wrapper


def _check_filter(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    def arg(index: int, key: str, default: Any = None) -> Any:
        return args[index] if len(args) > index else kwargs.get(key, default)

    if name == "format":
        _check_format(arg(0, "value"), args[1:], kwargs, "%")
    elif name == "center":
        _check_width(arg(1, "width", 80), "center")
    elif name == "indent":
        text, width = arg(0, "s"), arg(1, "width", 4)
        lines = text.count("\n") + 1 if isinstance(text, str) else 1
        if _int(width) is not None:
            _refuse_size(lines * width, "indent")
    elif name == "join":
        value = arg(0, "value")
        if isinstance(value, list | tuple | str):
            _check_join(list(value), arg(1, "d", ""))
    elif name == "replace":
        _check_replace(arg(0, "s"), arg(1, "old"), arg(2, "new"), arg(3, "count"))
    elif name == "batch" and arg(2, "fill_with") is not None:
        _check_width(arg(1, "linecount"), "batch")
    elif name == "slice":
        _check_width(arg(1, "slices"), "slice")
    elif name == "tojson" and _int(arg(1, "indent")) is not None:
        if arg(1, "indent") > 16:
            raise SecurityError("tojson's indent is limited to 16")
    elif name == "wordwrap":
        _check_width(arg(1, "width", 79), "wordwrap")
    budget = _BUDGET.get()
    if budget is not None:
        budget.tick()


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, plus the render budget (:class:`_Budget`) in every hook it offers."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
        ints = _int(left) is not None and _int(right) is not None
        sequences = isinstance(left, str | list | tuple) and isinstance(right, str | list | tuple)
        if operator_ == "**" and isinstance(right, int | float) and abs(right) > MAX_EXPONENT:
            raise SecurityError(f"exponent {right} is larger than {MAX_EXPONENT}")
        if operator_ == "**" and ints and left.bit_length() * right > MAX_INT_BITS:
            raise SecurityError(f"{left} ** {right} is larger than {MAX_INT_BITS:,} bits")
        if operator_ == "*":
            for seq, count in ((left, right), (right, left)):
                if (
                    isinstance(seq, str | list | tuple)
                    and isinstance(count, int)
                    and len(seq) * count > MAX_REPEAT_LENGTH
                ):
                    raise SecurityError(
                        f"repeating a sequence beyond {MAX_REPEAT_LENGTH} items is not allowed"
                    )
            if ints and left.bit_length() + right.bit_length() > MAX_INT_BITS:
                raise SecurityError(f"a product larger than {MAX_INT_BITS:,} bits")
        if operator_ == "+" and sequences:
            _refuse_size(len(left) + len(right), "+")
        if operator_ == "%" and isinstance(left, str):
            _check_format(left, right if isinstance(right, tuple) else (right,), {}, "%")
        return _spend(super().call_binop(context, operator_, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        target = getattr(__obj, "__wrapped__", __obj)  # the sandbox wraps str.format
        owner = getattr(target, "__self__", None)
        name = getattr(target, "__name__", "")
        if isinstance(owner, str | bytes):
            if name in ("format", "format_map"):
                _check_format(owner, args, kwargs if name == "format" else {}, "{}")
            elif name == "join" and args:
                items = list(_budget_iter(args[0]))
                _check_join(items, owner)
                args = (items, *args[1:])
            elif name in _STR_METHOD_CHECKS:
                _STR_METHOD_CHECKS[name](owner, *args, **kwargs)
        return _spend(super().call(__context, __obj, *args, **kwargs))


def _finalize(value: Any) -> Any:
    return "" if value is None else value


def _make_environment() -> _Environment:
    env = _Environment(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        finalize=_finalize,
        keep_trailing_newline=True,
        cache_size=0,  # we cache compiled templates ourselves, keyed by text
    )
    # Only what a template over one row needs; lipsum/cycler/joiner only widen the surface.
    for name in ("lipsum", "cycler", "joiner"):
        env.globals.pop(name, None)
    env.filters["tojson"] = _tojson
    env.filters["truncate_words"] = _truncate_words
    env.filters["domain"] = _domain
    env.filters["url_component"] = _url_component
    env.filters = {name: _budgeted_filter(name, f) for name, f in env.filters.items()}
    # Internal: the AST rewrite in _budget_tree routes loops, ~ and outputs through these.
    env.filters["_budget_iter"] = _budget_iter
    env.filters["_concat"] = _concat
    env.filters["_spend"] = _spend
    return env


_ENV = _make_environment()


def _check_tree(tree: nodes.Template) -> None:
    """Refuse, before anything runs, every construct that only serves to leave the sandbox."""
    for node in tree.find_all(nodes.Node):
        tag = _FORBIDDEN_TAGS.get(type(node))
        if tag:
            raise TemplateError(f"'{tag}' is not allowed in templates", line=node.lineno)
        name: Any = None
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem) and isinstance(node.arg, nodes.Const):
            name = node.arg.value
        elif (
            isinstance(node, nodes.Filter)
            and node.name == "attr"
            and node.args
            and isinstance(node.args[0], nodes.Const)
        ):
            name = node.args[0].value
        if isinstance(name, str) and name.startswith("_"):
            raise TemplateError(
                f"access to {name!r} is not allowed (names starting with '_' are private)",
                line=node.lineno,
            )


def _internal_filter(node: nodes.Node, name: str) -> nodes.Filter:
    return nodes.Filter(node, name, [], [], None, None, lineno=node.lineno)


class _BudgetRewriter(NodeTransformer):
    """Routes the constructs the sandbox has no hook for through the budget: every loop's
    items (``_budget_iter``), every ``~`` (``_concat``) and every output piece (``_spend``,
    which also bounds what a ``{% set %}`` block captures)."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = _internal_filter(node.iter, "_budget_iter")
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return _internal_filter(nodes.List(node.nodes, lineno=node.lineno), "_concat")

    def visit_Output(self, node: nodes.Output) -> nodes.Node:
        self.generic_visit(node)
        node.nodes = [
            part if isinstance(part, nodes.TemplateData) else _internal_filter(part, "_spend")
            for part in node.nodes
        ]
        return node


def _param_names(tree: nodes.Template) -> frozenset[str] | None:
    """Names read as ``params.NAME`` or ``params['NAME']``; None if ``params`` is used whole."""
    names: set[str] = set()
    accesses = 0
    for node in tree.find_all((nodes.Getattr, nodes.Getitem)):
        if not isinstance(node, nodes.Getattr | nodes.Getitem):
            continue  # what find_all yields, said so a type checker knows it
        if isinstance(node.node, nodes.Name) and node.node.name == "params":
            if isinstance(node, nodes.Getattr):
                names.add(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str):
                names.add(node.arg.value)
            else:
                return None
            accesses += 1
    uses = sum(1 for n in tree.find_all(nodes.Name) if n.name == "params" and n.ctx == "load")
    return frozenset(names) if uses == accesses else None


class Template:
    """A compiled template; get one from :func:`compile_template`, which caches by text."""

    __slots__ = ("_expression", "_template", "fields", "params", "text")

    def __init__(
        self, text: str, *, transform: Callable[[nodes.Template], None] | None = None
    ) -> None:
        """``transform`` rewrites the checked tree before it is compiled (URL encoding)."""
        if not isinstance(text, str):
            raise TemplateError(f"a template must be text, got {type(text).__name__}")
        if len(text) > MAX_TEMPLATE_LENGTH:
            raise TemplateError(
                f"template is {len(text)} characters long, more than the "
                f"{MAX_TEMPLATE_LENGTH} allowed"
            )
        try:
            tree = _ENV.parse(text)
            _check_tree(tree)
            #: Top-level names the template reads: the row's columns (and ``params``).
            self.fields: frozenset[str] = frozenset(jinja2.meta.find_undeclared_variables(tree))
            #: The parameters it reads as ``params.NAME``; None when it uses ``params`` otherwise.
            self.params: frozenset[str] | None = _param_names(tree)
            if transform is not None:
                transform(tree)
            self._expression = None if transform else self._single_expression(text, tree)
            _BudgetRewriter().visit(tree)
            self._template = _ENV.from_string(tree)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"syntax error: {exc.message}", line=exc.lineno) from None
        self.text = text

    @staticmethod
    def _single_expression(text: str, tree: nodes.Template) -> Any:
        # ``"{{ employees }}"`` in a JSON body should stay a number, not become "120".
        match = _SINGLE_EXPRESSION.match(text)
        if not match or len(tree.body) != 1 or not isinstance(tree.body[0], nodes.Output):
            return None
        parts = tree.body[0].nodes
        if len(parts) != 1 or isinstance(parts[0], nodes.TemplateData):
            return None
        # What Environment.compile_expression builds, with the budget's rewrite applied.
        expression = cast(nodes.Output, _ENV.parse(text).body[0]).nodes[0]
        assign = nodes.Assign(nodes.Name("result", "store"), expression, lineno=1)
        program = nodes.Template([_BudgetRewriter().visit(assign)], lineno=1)
        program.set_environment(_ENV)
        return TemplateExpression(_ENV.from_string(program), undefined_to_none=False)

    def render(self, values: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> str:
        """The template's text for one row. Raises :class:`TemplateError`.

        Bounded whatever the template does: at most ``MAX_RENDER_SECONDS`` and
        ``MAX_RENDERED_CHARS`` characters (see :class:`_Budget`).
        """
        token = _BUDGET.set(_Budget())
        try:
            pieces: list[str] = []
            size = 0
            for piece in self._template.generate(_context(values, params)):
                size += len(piece)
                if size > MAX_RENDERED_CHARS:
                    raise SecurityError(
                        f"the rendered text is longer than {MAX_RENDERED_CHARS:,} characters"
                    )
                pieces.append(piece)
            return "".join(pieces)
        except Exception as exc:
            raise _render_error(exc) from None
        finally:
            _BUDGET.reset(token)

    def render_native(
        self, values: Mapping[str, Any], params: Mapping[str, Any] | None = None
    ) -> Any:
        """Like :meth:`render`, but a template that is one ``{{ expression }}`` keeps its type.

        For JSON bodies: ``"{{ employees }}"`` gives ``120``, ``"{{ tags }}"`` a list,
        and a null stays null. Any other template renders to text as usual.
        """
        if self._expression is None:
            return self.render(values, params)
        token = _BUDGET.set(_Budget())
        try:
            result = self._expression(_context(values, params))
            if isinstance(result, jinja2.Undefined):
                str(result)  # StrictUndefined raises the precise error here
            _spend(result)
        except Exception as exc:
            raise _render_error(exc) from None
        finally:
            _BUDGET.reset(token)
        return result

    def __repr__(self) -> str:
        return f"<Template {self.text[:60]!r}>"


def _context(values: Mapping[str, Any], params: Mapping[str, Any] | None) -> dict[str, Any]:
    context = dict(values)
    if params is not None:
        context["params"] = params
    return context


def _render_error(exc: Exception) -> TemplateError:
    if isinstance(exc, SecurityError):
        return TemplateError(f"refused by the sandbox: {exc}")
    if isinstance(exc, jinja2.UndefinedError):
        return TemplateError(f"missing value: {exc.message}")
    if isinstance(exc, jinja2.TemplateError):
        return TemplateError(f"cannot render: {exc.message}")
    return TemplateError(f"cannot render: {type(exc).__name__}: {exc}")


@functools.lru_cache(maxsize=4096)
def compile_template(text: str) -> Template:
    """Compile (once; later calls hit a cache) a template. Raises :class:`TemplateError`."""
    return Template(text)


# Where a URL's origin (scheme and authority) ends: the first "/", "?" or "#" after "://".
_ORIGIN_END = re.compile(r"[/?#]")
_HOLE = "\x00"  # stands for a template expression while the origin is being read


class UrlTemplate:
    """A URL template whose row values cannot steer the request.

    Everything a template puts in the path or query is encoded as one component (see
    :func:`_url_component`): a row's ``../admin``, ``x?y=1#``, ``a@b`` or CRLF stays inside
    its segment. ``fixed_origin`` is the literal ``scheme://host[:port]`` when the author wrote
    it out; it is ``None`` when a template expression takes part in the scheme or the host,
    and then the node must say which hosts it may reach.
    """

    __slots__ = ("fixed_origin", "template", "text")

    def __init__(self, text: str) -> None:
        origins: list[str | None] = []
        self.template = Template(
            text, transform=lambda tree: origins.append(_encode_after_origin(tree))
        )
        self.fixed_origin = origins[0]
        self.text = text

    def render(self, values: Mapping[str, Any], params: Mapping[str, Any] | None = None) -> str:
        """The URL for one row. Raises :class:`TemplateError`."""
        return self.template.render(values, params)


def _encode_after_origin(tree: nodes.Template) -> str | None:
    """Wrap every expression after the origin in ``url_component``; the literal origin, or
    ``None`` when an expression or a block comes before the origin ends."""
    literal = ""
    dynamic = False
    closed_at: int | None = None
    for node in tree.body:
        if closed_at is not None:
            _wrap_outputs(node)
            continue
        parts = node.nodes if isinstance(node, nodes.Output) else [node]
        for index, part in enumerate(parts):
            if closed_at is not None:
                if isinstance(part, nodes.Node) and not isinstance(part, nodes.TemplateData):
                    parts[index] = _component(part)
                continue
            if isinstance(part, nodes.TemplateData):
                literal += part.data
            else:
                literal += _HOLE
                dynamic = True
            start = literal.find("://")
            found = _ORIGIN_END.search(literal, start + 3 if start >= 0 else 0)
            if found and (start >= 0 or dynamic):
                closed_at = found.start()
    origin = literal[:closed_at] if closed_at is not None else literal
    return None if dynamic or _HOLE in origin else origin


def _wrap_outputs(node: nodes.Node) -> None:
    outputs = [node] if isinstance(node, nodes.Output) else list(node.find_all(nodes.Output))
    for output in outputs:
        output.nodes = [
            part if isinstance(part, nodes.TemplateData) else _component(part)
            for part in output.nodes
        ]


def _component(expr: nodes.Node) -> nodes.Expr:
    # An author's own ``| urlencode`` keeps "/" and would be encoded twice: ours replaces it.
    if (
        isinstance(expr, nodes.Filter)
        and expr.name in ("urlencode", "url_component")
        and expr.node is not None
    ):
        expr = expr.node
    return nodes.Filter(expr, "url_component", [], [], None, None, lineno=expr.lineno)


@functools.lru_cache(maxsize=1024)
def compile_url_template(text: str) -> UrlTemplate:
    """Compile (once; later calls hit a cache) a URL template. Raises :class:`TemplateError`."""
    return UrlTemplate(text)


def is_template(text: Any) -> bool:
    """Whether a string holds Jinja markup; any other string is used as it is."""
    return isinstance(text, str) and any(marker in text for marker in _MARKERS)


def render(
    template: Template | str, values: Mapping[str, Any], *, params: Mapping[str, Any] | None = None
) -> str:
    """Render a compiled template, or a template text (compiled through the cache)."""
    if isinstance(template, str):
        template = compile_template(template)
    return template.render(values, params)


def render_value(
    obj: Any,
    values: Mapping[str, Any],
    *,
    params: Mapping[str, Any] | None = None,
    native: bool = False,
) -> Any:
    """Render every template string inside nested dicts and lists (headers, JSON bodies).

    Keys are left alone, strings without Jinja markup and non-strings are
    returned unchanged. With ``native=True`` a string that is exactly one
    ``{{ expression }}`` keeps the value's type (see :meth:`Template.render_native`).
    """
    if isinstance(obj, str):
        if not is_template(obj):
            return obj
        template = compile_template(obj)
        return template.render_native(values, params) if native else template.render(values, params)
    if isinstance(obj, Mapping):
        return {
            key: render_value(value, values, params=params, native=native)
            for key, value in obj.items()
        }
    if isinstance(obj, list | tuple):
        return [render_value(item, values, params=params, native=native) for item in obj]
    return obj


def template_strings(obj: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """``(path, text)`` for every template string inside ``obj``; paths read like ``body.items[0]``.

    The loader uses it to compile every templated field when workflows load.
    """
    if isinstance(obj, str):
        if is_template(obj):
            yield path, obj
    elif isinstance(obj, Mapping):
        for key, value in obj.items():
            yield from template_strings(value, f"{path}.{key}" if path else str(key))
    elif isinstance(obj, list | tuple):
        for index, item in enumerate(obj):
            yield from template_strings(item, f"{path}[{index}]")
