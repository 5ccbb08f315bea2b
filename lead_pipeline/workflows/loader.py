"""Load workflow YAML files into a checked, ordered :class:`WorkflowSet`.

Everything that can be wrong with a definition is found here, when the
definitions load, rather than on row 3,000 of a paid run: YAML syntax, the
schema, node configurations (when the node types are given), ``where``/``when``
expressions, templates, parameters, ``needs`` (unknown names, cycles), two
workflows writing one column, a filter reading a column its workflow does not
depend on, and names defined twice. Every problem is reported, each on its own
line naming the file, the node and the field, so one load shows them all.
"""

from __future__ import annotations

import difflib
import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from graphlib import CycleError, TopologicalSorter
from pathlib import Path
from typing import Any, Generic, cast, overload

import yaml
from pydantic import ValidationError

from lead_pipeline.settings import get_settings
from lead_pipeline.store.records import CANONICAL_FIELDS
from lead_pipeline.workflows.compiled import (
    K,
    Node,
    PlainKind,
    UncheckedConfig,
    Workflow,
)
from lead_pipeline.workflows.errors import UnknownWorkflowError, WorkflowError
from lead_pipeline.workflows.expressions import (
    Expression,
    ExpressionError,
    compile_expression,
    compile_where,
)
from lead_pipeline.workflows.inputs import ID_COLUMN, NodeInputs
from lead_pipeline.workflows.model import NodeConfigBase, NodeSpec, WorkflowSpec
from lead_pipeline.workflows.templates import TemplateError, compile_template, template_strings

__all__ = [
    "BUILTIN_DIR",
    "WorkflowSet",
    "load_workflow_file",
    "load_workflows",
    "parse_workflow",
]

BUILTIN_DIR = Path(__file__).resolve().parent / "builtin"
MAX_FILE_BYTES = 1_000_000
# YAML aliases can make a small file expand exponentially; nothing real comes close.
MAX_YAML_VALUES = 100_000
# Deeper than any workflow needs; PyYAML composes nodes recursively and would hit Python's
# recursion limit (a traceback) somewhere past a few hundred levels.
MAX_YAML_DEPTH = 64
_SUFFIXES = (".yaml", ".yml")


def _display(path: Path | str | None) -> str:
    if path is None:
        return "<no file>"
    path = Path(path)
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return str(path)
    return str(path) if relative.startswith("..") else relative


def _label(spec: WorkflowSpec) -> str:
    return _display(spec.source) if spec.source is not None else f"workflow {spec.name!r}"


# --------------------------------------------------------------------------- YAML


class _StrictLoader(yaml.SafeLoader):
    """``safe_load`` that refuses duplicate keys, which YAML would otherwise silently drop."""


def _construct_mapping(loader: _StrictLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    seen: dict[Any, int] = {}
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=True)
        try:
            first = seen.get(key)
        except TypeError:
            continue  # unhashable key: construct_mapping reports it
        if first is not None:
            raise yaml.constructor.ConstructorError(
                None,
                None,
                f"duplicate key {key!r} (first defined at line {first})",
                key_node.start_mark,
            )
        seen[key] = key_node.start_mark.line + 1
    return loader.construct_mapping(node, deep=True)


_StrictLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG,
    _construct_mapping,
)


def _check_depth(label: str, text: str) -> None:
    """Refuse nesting deeper than ``MAX_YAML_DEPTH`` from the parser's events, which come
    without recursion, before anything is composed."""
    depth = 0
    for event in yaml.parse(text, Loader=_StrictLoader):
        if isinstance(event, yaml.MappingStartEvent | yaml.SequenceStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                raise WorkflowError(
                    f"{label}: line {event.start_mark.line + 1}: nested more than "
                    f"{MAX_YAML_DEPTH} levels deep"
                )
        elif isinstance(event, yaml.MappingEndEvent | yaml.SequenceEndEvent):
            depth -= 1


def _count_values(data: Any, limit: int) -> int:
    count = 0
    stack = [data]
    while stack:
        current = stack.pop()
        count += 1
        if count > limit:
            break
        if isinstance(current, dict):
            stack.extend(current.keys())
            stack.extend(current.values())
        elif isinstance(current, list):
            stack.extend(current)
    return count


def _yaml_error(label: str, exc: yaml.YAMLError) -> str:
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    detail = f"{problem} ({context})" if context else problem
    if mark is not None:
        position = f"line {mark.line + 1}, column {mark.column + 1}"
        return f"{label}: YAML syntax error at {position}: {detail}"
    return f"{label}: YAML syntax error: {detail}"


# --------------------------------------------------------------------------- schema errors


def _dotted(parts: Sequence[Any]) -> str:
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _node_name(raw_nodes: Any, index: int) -> str:
    if isinstance(raw_nodes, list) and 0 <= index < len(raw_nodes):
        raw = raw_nodes[index]
        if isinstance(raw, dict) and isinstance(raw.get("id"), str) and raw["id"]:
            return f"node {raw['id']!r}"
    return f"node #{index + 1}"


def _message(error: Mapping[str, Any], known: Iterable[str] = ()) -> str:
    message = str(error["msg"])
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if error["type"] == "extra_forbidden":
        message = "unknown field"
        name = str(error["loc"][-1]) if error["loc"] else ""
        close = difflib.get_close_matches(name, list(known), n=1)
        if close:
            message += f"; did you mean {close[0]!r}?"
        elif known:
            message += f" (known fields: {', '.join(sorted(known))})"
    return message


def _where_text(prefix: str, field: str) -> str:
    return f"{prefix} field {field!r}" if field else prefix


def _schema_problems(label: str, exc: ValidationError, data: Mapping[str, Any]) -> list[str]:
    problems: list[str] = []
    for error in exc.errors():
        loc = list(error["loc"])
        if len(loc) >= 2 and loc[0] == "nodes" and isinstance(loc[1], int):
            prefix = f"{label}: {_node_name(data.get('nodes'), loc[1])}"
            field = _dotted(loc[2:])
            known: Iterable[str] = NodeSpec.model_fields
        else:
            field = _dotted(loc)
            prefix, known = (f"{label}:" if field else label), WorkflowSpec.model_fields
        problems.append(f"{_where_text(prefix, field)}: {_message(error, known)}")
    return problems


# --------------------------------------------------------------------------- files


def parse_workflow(text: str, source: Path | str | None = None) -> WorkflowSpec:
    """One workflow from YAML text; ``source`` names the file in errors and is kept on the spec.

    Only the file itself is checked here (syntax and schema); :class:`WorkflowSet`
    checks what needs the node types or the other workflows.
    """
    label = _display(source)
    try:
        _check_depth(label, text)
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        raise WorkflowError(_yaml_error(label, exc)) from None
    except RecursionError:  # nesting built through aliases
        raise WorkflowError(f"{label}: nested too deeply to read") from None
    if not isinstance(data, dict):
        kind = "empty" if data is None else f"a {type(data).__name__}"
        raise WorkflowError(
            f"{label}: a workflow file must be a mapping with name and nodes, not {kind}"
        )
    if _count_values(data, MAX_YAML_VALUES) > MAX_YAML_VALUES:
        raise WorkflowError(f"{label}: more than {MAX_YAML_VALUES} values once YAML aliases expand")
    if "source" in data:
        raise WorkflowError(f"{label}: field 'source': unknown field (it is set by the loader)")
    try:
        spec = WorkflowSpec.model_validate(data)
    except ValidationError as exc:
        raise WorkflowError(_schema_problems(label, exc, data)) from None
    except RecursionError:  # a value that contains itself (a recursive YAML alias)
        raise WorkflowError(f"{label}: a value contains itself (a recursive alias)") from None
    if source is not None:
        spec.source = Path(source)
    return spec


def load_workflow_file(path: Path) -> WorkflowSpec:
    """Read and parse one workflow file (syntax and schema only)."""
    label = _display(path)
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise WorkflowError(f"{label}: file is {size} bytes, more than {MAX_FILE_BYTES}")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise WorkflowError(f"{label}: not UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise WorkflowError(f"{label}: cannot read: {exc.strerror or exc}") from None
    return parse_workflow(text, path)


def _files(folder: Path) -> list[Path]:
    if folder.is_file():
        return [folder]
    if not folder.is_dir():
        return []  # a missing user folder just means no user workflows yet
    return sorted(
        p for p in folder.iterdir() if p.suffix in _SUFFIXES and not p.name.startswith(".")
    )


# --------------------------------------------------------------------------- the set


@dataclass
class _Facts(Generic[K]):
    """What the checks learn of each workflow and node while a set is built; it ends up
    on the :class:`Workflow` and :class:`Node` objects, and is dropped."""

    kinds: dict[tuple[str, str], K] = field(default_factory=dict)
    configs: dict[tuple[str, str], NodeConfigBase] = field(default_factory=dict)
    inputs: dict[tuple[str, str], NodeInputs] = field(default_factory=dict)
    where_columns: dict[str, frozenset[str]] = field(default_factory=dict)
    from_list: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)
    provided: dict[str, frozenset[str]] = field(default_factory=dict)


class WorkflowSet(Generic[K]):
    """Workflows that passed every check, in dependency order, each a :class:`Workflow`
    whose nodes carry their node type, validated configuration and inputs.

    Build it with :func:`load_workflows`, or directly from specs (tests, tools):
    the constructor runs every check that does not need the YAML text. ``broken``
    lists the problems of user files that :func:`load_workflows` set aside.
    """

    def __init__(
        self,
        specs: Iterable[WorkflowSpec],
        *,
        node_types: Mapping[str, K] | None = None,
        builtin: Iterable[str] = (),
        broken: Iterable[str] = (),
    ) -> None:
        given = list(specs)
        self._builtin = frozenset(builtin)
        self.broken = list(broken)  # one problem a line, naming its file
        facts: _Facts[K] = _Facts()
        problems: list[str] = []
        by_name: dict[str, WorkflowSpec] = {}
        for spec in given:
            if spec.name in by_name:
                problems.append(
                    f"workflow {spec.name!r} is defined twice: in {_label(by_name[spec.name])} "
                    f"and in {_label(spec)}"
                )
                continue
            by_name[spec.name] = spec
        reads: dict[str, list[tuple[str, str]]] = {}
        for spec in by_name.values():
            spec_problems, reads[spec.name] = self._check_spec(spec, node_types, facts)
            problems.extend(spec_problems)
        problems.extend(_check_needs(by_name))
        if problems:
            raise WorkflowError(problems)
        order = _topological(by_name)
        self._needs = {spec.name: tuple(spec.needs) for spec in order}
        self._names = [spec.name for spec in order]
        owners, owner_problems = _column_owners(order)
        problems.extend(owner_problems)
        problems.extend(self._check_reads(reads, owners, by_name))
        if not problems:
            problems.extend(self._classify_inputs(order, by_name, facts))
        if problems:
            raise WorkflowError(problems)
        self._owners = owners
        self._by_name = {spec.name: self._workflow(spec, facts) for spec in order}

    def _workflow(self, spec: WorkflowSpec, facts: _Facts[K]) -> Workflow[K]:
        """``spec`` with what the checks learned of it and of each of its nodes."""
        nodes = tuple(
            Node(
                index=index,
                spec=node,
                node_type=facts.kinds[(spec.name, node.id)],
                config=facts.configs[(spec.name, node.id)],
                when=_expression(node.when, f"{spec.name}.{node.id}.when"),
                config_hash=node_hash,
                inputs=facts.inputs[(spec.name, node.id)],
            )
            for index, (node, node_hash) in enumerate(
                zip(spec.nodes, spec.node_hashes(), strict=True)
            )
        )
        return Workflow(
            spec=spec,
            nodes=nodes,
            where=_expression(spec.where, f"{spec.name}.where"),
            list_columns=facts.from_list.get(spec.name, {}),
            provided_columns=facts.provided.get(spec.name, frozenset()),
            upstream=tuple(name for name in self._closure(spec.name) if name != spec.name),
        )

    def _closure(self, name: str) -> list[str]:
        """``name`` and every workflow it needs, directly or not, in dependency order."""
        wanted: set[str] = set()
        stack = [name]
        while stack:
            current = stack.pop()
            if current not in wanted:
                wanted.add(current)
                stack.extend(self._needs[current])
        return [other for other in self._names if other in wanted]

    # -- checks

    @staticmethod
    def _check_spec(
        spec: WorkflowSpec, node_types: Mapping[str, K] | None, facts: _Facts[K]
    ) -> tuple[list[str], list[tuple[str, str]]]:
        """Problems in one workflow, and ``(where, column)`` for every column it reads.

        On the way, each node's inputs are derived (see :mod:`workflows.inputs`).
        """
        label = _label(spec)
        problems: list[str] = []
        reads: list[tuple[str, str]] = []
        declared = set(spec.params)

        def check_expression(
            prefix: str, field: str, text: str, *, predicate: bool
        ) -> Expression | None:
            try:
                compiled: Expression = (
                    compile_where(text, label=field)
                    if predicate
                    else compile_expression(text, label=field)
                )
            except ExpressionError as exc:
                problems.append(f"{_where_text(prefix, field)}: {exc}")
                return None
            for name in sorted(compiled.params - declared):
                problems.append(
                    f"{_where_text(prefix, field)}: unknown parameter params.{name} "
                    f"(declared: {', '.join(sorted(declared)) or 'none'})"
                )
            reads.extend((_where_text(prefix, field), column) for column in compiled.columns)
            return compiled

        if spec.where is not None:
            where = check_expression(f"{label}:", "where", spec.where, predicate=True)
            if where is not None:
                facts.where_columns[spec.name] = frozenset(where.columns)
        for node in spec.nodes:
            prefix = f"{label}: node {node.id!r}"
            columns: dict[str, list[str]] = {}
            used_params: set[str] = set()
            all_params = False
            when_columns: frozenset[str] = frozenset()
            when_params: frozenset[str] = frozenset()
            if node.when is not None:
                when = check_expression(prefix, "when", node.when, predicate=True)
                if when is not None:
                    when_columns, when_params = when.columns, when.params
            config = node.config
            model = None
            validated: NodeConfigBase | None = None
            node_key = (spec.name, node.id)
            if node_types is None:
                facts.kinds[node_key] = cast(K, PlainKind(node.type))
                facts.configs[node_key] = UncheckedConfig()
            else:
                kind = node_types.get(node.type)
                if kind is None:
                    known = ", ".join(sorted(node_types)) or "none registered"
                    problems.append(
                        f"{prefix} field 'type': unknown node type {node.type!r} (known: {known})"
                    )
                    continue
                facts.kinds[node_key] = kind
                model = kind.config_model
                try:
                    validated = model.model_validate(config)
                except ValidationError as exc:
                    for error in exc.errors():
                        field = _dotted(error["loc"]) or "config"
                        message = _message(error, [*model.model_fields, *NodeSpec.model_fields])
                        problems.append(f"{prefix} field {field!r}: {message}")
                    continue
                facts.configs[node_key] = validated
            # The validated configuration, defaults included: a default template
            # (fetch_page's ``{{ website }}``) reads a column like a written one.
            templated = validated.template_values() if validated is not None else None
            scope = config if templated is None else templated
            for path, text in template_strings(scope):
                try:
                    template = compile_template(text)
                except TemplateError as exc:
                    problems.append(f"{prefix} field {path!r}: {exc}")
                    continue
                for column in template.fields - {"params"}:
                    reads.append((f"{prefix} field {path!r}", column))
                    columns.setdefault(column, []).append(path)
                if template.params is None:
                    all_params = True
                else:
                    used_params |= template.params
                    for name in sorted(template.params - declared):
                        problems.append(
                            f"{prefix} field {path!r}: unknown parameter params.{name} "
                            f"(declared: {', '.join(sorted(declared)) or 'none'})"
                        )
            for name in model.expression_fields if model is not None else ():
                value = config.get(name)
                texts = (
                    [(name, None, value)]
                    if isinstance(value, str)
                    else [(f"{name}.{k}", k, v) for k, v in value.items()]
                    if isinstance(value, dict)
                    else [(f"{name}[{i}]", None, v) for i, v in enumerate(value)]
                    if isinstance(value, list)
                    else []
                )
                computed: set[str] = set()  # a later expression sees the earlier ones
                for path, key, text in texts:
                    if not isinstance(text, str):
                        continue
                    compiled = check_expression(prefix, path, text, predicate=False)
                    if compiled is not None:
                        for column in compiled.columns - computed:
                            columns.setdefault(column, []).append(path)
                        used_params |= compiled.params
                    if key is not None:
                        computed.add(key)
            whole_row = False
            if validated is not None:
                for field, column in validated.input_columns():
                    reads.append((f"{prefix} field {field!r}", column))
                    columns.setdefault(column, []).append(field)
                whole_row = validated.reads_whole_row()
            requirements = tuple(node.requirements())
            for alternatives in requirements:
                for column in alternatives:
                    reads.append((f"{prefix} field 'requires'", column))
                    columns.setdefault(column, []).append("requires")
            facts.inputs[node_key] = NodeInputs(
                columns={column: tuple(dict.fromkeys(paths)) for column, paths in columns.items()},
                params=frozenset(used_params),
                when_columns=frozenset(when_columns),
                when_params=frozenset(when_params),
                requirements=requirements,
                whole_row=whole_row,
                all_params=all_params,
            )
        return problems, reads

    def _check_reads(
        self,
        reads: Mapping[str, list[tuple[str, str]]],
        owners: Mapping[str, tuple[str, str]],
        by_name: Mapping[str, WorkflowSpec],
    ) -> list[str]:
        # A filter or template reading another workflow's output only works if that
        # workflow runs first, which only ``needs`` guarantees.
        problems: list[str] = []
        for name, used in reads.items():
            upstream = set(self._closure(name))
            for where, column in sorted(set(used)):
                owner = owners.get(column)
                if owner is not None and owner[0] not in upstream:
                    problems.append(
                        f"{where}: reads column {column!r}, which workflow {owner[0]!r} writes "
                        f"({_label(by_name[owner[0]])}); add {owner[0]!r} to needs"
                    )
        return problems

    def _classify_inputs(
        self, order: Sequence[WorkflowSpec], by_name: Mapping[str, WorkflowSpec], facts: _Facts[K]
    ) -> list[str]:
        """Sort every column a workflow reads into what the pipeline provides and what the
        lead list must: the latter can only be checked against a list (the select step).

        A column that only the reading node itself or a later node of its workflow
        writes is refused here: when the node runs, nothing has written it yet.
        """
        problems: list[str] = []
        for spec in order:
            label = _label(spec)
            upstream = {
                column
                for other in self._closure(spec.name)
                if other != spec.name
                for column in by_name[other].output_columns()
            }
            # Canonical lead fields: every list provides them (possibly empty).
            provided = {ID_COLUMN, *CANONICAL_FIELDS, *upstream}
            from_list: dict[str, list[str]] = {}
            for column in sorted(facts.where_columns.get(spec.name, ())):
                if column not in provided and column not in spec.output_columns():
                    from_list.setdefault(column, []).append(f"{label}: field 'where'")
            earlier: set[str] = set()
            for index, node in enumerate(spec.nodes):
                inputs = facts.inputs.get((spec.name, node.id))
                if inputs is None:
                    continue
                fields = {c: list(paths) for c, paths in inputs.columns.items()}
                for column in inputs.when_columns:
                    fields.setdefault(column, []).append("when")
                for column, paths in sorted(fields.items()):
                    if column in provided or column in earlier:
                        continue
                    writer = next((n for n in spec.nodes[index:] if column in n.outputs), None)
                    where = f"{label}: node {node.id!r} field {paths[0]!r}"
                    if writer is not None:
                        who = (
                            "this node itself writes"
                            if writer is node
                            else f"node {writer.id!r} writes after it"
                        )
                        problems.append(
                            f"{where}: reads column {column!r}, which {who}; a node can only "
                            "read the lead's fields, earlier nodes' and upstream workflows' "
                            "outputs"
                        )
                        continue
                    from_list.setdefault(column, []).extend(
                        f"{label}: node {node.id!r} field {path!r}" for path in paths
                    )
                earlier |= set(node.outputs)
            facts.from_list[spec.name] = {c: tuple(w) for c, w in from_list.items()}
            facts.provided[spec.name] = frozenset(provided | set(spec.output_columns()))
        return problems

    # -- queries

    def get(self, name: str) -> Workflow[K]:
        """The workflow called ``name``; :class:`UnknownWorkflowError` lists the known ones."""
        try:
            return self._by_name[name]
        except KeyError:
            known = ", ".join(self.names()) or "none"
            raise UnknownWorkflowError(f"unknown workflow {name!r} (known: {known})") from None

    def names(self) -> list[str]:
        """Workflow names in dependency order."""
        return list(self._names)

    def ordered(self) -> list[Workflow[K]]:
        """Every workflow after everything it needs; otherwise in load order (built-ins first)."""
        return list(self._by_name.values())

    def upstream_closure(self, name: str) -> list[Workflow[K]]:
        """``name`` and everything it needs, directly or not, in dependency order."""
        return [self._by_name[other] for other in self._closure(self.get(name).name)]

    def is_builtin(self, name: str) -> bool:
        return self.get(name).name in self._builtin

    def output_owners(self) -> dict[str, tuple[str, str]]:
        """``column -> (workflow, node id)`` for every output column (the first writer node)."""
        return dict(self._owners)

    def usable_for(self, requested: str) -> list[Workflow[K]]:
        """The workflows, or the set-aside files' problems when only they could define
        ``requested`` (a name, or ``all``)."""
        if requested != "all" and requested not in self and self.broken:
            raise WorkflowError(self.broken)
        return self.ordered()

    def warning(self) -> str | None:
        """One line naming the user files set aside, or None when every file loaded."""
        if not self.broken:
            return None
        return (
            "workflow file(s) that did not load are left out, the other workflows work: "
            + "; ".join(self.broken)
        )

    def __iter__(self) -> Iterator[Workflow[K]]:
        return iter(self._by_name.values())

    def __len__(self) -> int:
        return len(self._by_name)

    def __contains__(self, name: object) -> bool:
        return name in self._by_name

    def __repr__(self) -> str:
        return f"WorkflowSet({self.names()})"


def _expression(text: str | None, label: str) -> Expression | None:
    """The compiled form of a checked ``where``/``when`` (cached by the compiler); the
    label names workflow and node in an error while a row is evaluated."""
    return None if text is None else compile_where(text, label=label)


def _check_needs(by_name: Mapping[str, WorkflowSpec]) -> list[str]:
    problems: list[str] = []
    for spec in by_name.values():
        for need in spec.needs:
            if need not in by_name:
                close = difflib.get_close_matches(need, list(by_name), n=1)
                hint = f"; did you mean {close[0]!r}?" if close else ""
                known = ", ".join(sorted(by_name))
                problems.append(
                    f"{_label(spec)}: field 'needs': unknown workflow {need!r}{hint} "
                    f"(known: {known})"
                )
    if problems:
        return problems
    cycle = _find_cycle(by_name)
    if cycle:
        files = ", ".join(dict.fromkeys(_label(by_name[name]) for name in cycle))
        problems.append(f"workflows need each other in a cycle: {' -> '.join(cycle)} (in {files})")
    return problems


def _find_cycle(by_name: Mapping[str, WorkflowSpec]) -> list[str] | None:
    """A cycle of ``needs`` as ``[a, b, ..., a]`` (a needs b), from the first-loaded member."""
    try:
        TopologicalSorter({name: spec.needs for name, spec in by_name.items()}).prepare()
    except CycleError as exc:
        # graphlib lists each node before the ones that need it; we read "needs".
        loop = list(reversed(exc.args[1]))[:-1]
        first = min(range(len(loop)), key=lambda i: list(by_name).index(loop[i]))
        loop = loop[first:] + loop[:first]
        return [*loop, loop[0]]
    return None


def _topological(by_name: Mapping[str, WorkflowSpec]) -> list[WorkflowSpec]:
    """Each workflow right after the ones it needs; otherwise in load order.

    Going through the workflows in load order, each one not yet placed brings the
    part of the graph it needs (``graphlib`` orders that part), so a chain stays
    together instead of every root coming first.
    """
    order: list[str] = []
    placed: set[str] = set()
    for root in by_name:
        if root in placed:
            continue
        graph: dict[str, tuple[str, ...]] = {}
        stack = [root]
        while stack:
            name = stack.pop()
            if name not in graph and name not in placed:
                graph[name] = tuple(n for n in by_name[name].needs if n not in placed)
                stack.extend(reversed(graph[name]))
        for name in TopologicalSorter(graph).static_order():
            order.append(name)
            placed.add(name)
    return [by_name[name] for name in order]


def _column_owners(
    order: Sequence[WorkflowSpec],
) -> tuple[dict[str, tuple[str, str]], list[str]]:
    owners: dict[str, tuple[str, str]] = {}
    labels: dict[str, str] = {spec.name: _label(spec) for spec in order}
    problems: list[str] = []
    for spec in order:
        for node in spec.nodes:
            for column in node.outputs:
                owner = owners.get(column)
                if owner is None:
                    owners[column] = (spec.name, node.id)
                elif owner[0] != spec.name:
                    problems.append(
                        f"column {column!r} is written by two workflows: {owner[0]!r} "
                        f"({labels[owner[0]]} node {owner[1]!r}) and {spec.name!r} "
                        f"({labels[spec.name]} node {node.id!r})"
                    )
    return owners, problems


# --------------------------------------------------------------------------- entry point


@overload
def load_workflows(
    dirs: Sequence[Path] | None = None,
    *,
    node_types: Mapping[str, K],
    builtin_dirs: Sequence[Path] | None = None,
    set_aside_broken: bool = False,
) -> WorkflowSet[K]: ...


@overload
def load_workflows(
    dirs: Sequence[Path] | None = None,
    *,
    node_types: None = None,
    builtin_dirs: Sequence[Path] | None = None,
    set_aside_broken: bool = False,
) -> WorkflowSet[PlainKind]: ...


def load_workflows(
    dirs: Sequence[Path] | None = None,
    *,
    node_types: Mapping[str, Any] | None = None,
    builtin_dirs: Sequence[Path] | None = None,
    set_aside_broken: bool = False,
) -> WorkflowSet[Any]:
    """Load, check and order every workflow: the one way a workflow file becomes a
    :class:`Workflow`, for the engine, the Dagster definitions and the commands alike.

    With no arguments: the package's built-in workflows plus the user folder
    (``LEAD_PIPELINE_WORKFLOWS``, default ``data/workflows/``; a missing folder
    is fine). ``dirs`` replaces that user folder list (a file path works too) and
    then no built-ins load unless ``builtin_dirs`` names them. A user workflow
    may not reuse a built-in's name: that would silently change what everyone
    else means by it. ``node_types`` maps each allowed ``type`` to its node type
    (the engine passes its registry), whose ``config_model`` the node's settings
    must satisfy; a model may list ``template_fields`` (only those are compiled as
    templates; otherwise every string with Jinja markup is) and
    ``expression_fields`` (compiled as expressions). Without ``node_types`` the
    settings are not checked (the importer only needs the declared outputs).

    Raises :class:`WorkflowError` listing every problem found. With
    ``set_aside_broken`` a user file with a problem is left out instead, and so is
    one that needs it, each problem in the set's ``broken``: a typo in one file
    must not stop ``status``, ``enrich`` of the others, or the Dagster code
    location. Only a problem in a built-in workflow still raises.
    """
    if dirs is None:
        user_dirs: Sequence[Path] = [get_settings().workflows_dir]
        builtin_dirs = [BUILTIN_DIR] if builtin_dirs is None else builtin_dirs
    else:
        user_dirs = dirs
        builtin_dirs = builtin_dirs or []
    builtin: dict[str, WorkflowSpec] = {}
    builtin_specs: list[WorkflowSpec] = []
    builtin_problems: list[str] = []
    # Each user file once, in load order: its spec, or the problems that keep it out.
    user: list[WorkflowSpec | WorkflowError] = []
    seen_files: set[Path] = set()
    for is_builtin, folders in ((True, builtin_dirs), (False, user_dirs)):
        for folder in folders:
            for path in _files(Path(folder)):
                resolved = path.resolve()
                if resolved in seen_files:
                    continue
                seen_files.add(resolved)
                try:
                    spec = load_workflow_file(path)
                except WorkflowError as exc:
                    if is_builtin:
                        builtin_problems.extend(exc.problems)
                    else:
                        user.append(exc)
                    continue
                if is_builtin:
                    builtin.setdefault(spec.name, spec)
                    builtin_specs.append(spec)  # one name twice: the set says so
                elif spec.name in builtin:
                    user.append(
                        WorkflowError(
                            f"{_label(spec)}: field 'name': {spec.name!r} is a built-in workflow "
                            f"({_label(builtin[spec.name])}); user workflows cannot replace "
                            "built-ins, so give this one another name"
                        )
                    )
                else:
                    user.append(spec)
    refused = [p for item in user if isinstance(item, WorkflowError) for p in item.problems]
    if builtin_problems or (refused and not set_aside_broken):
        raise WorkflowError([*builtin_problems, *refused])
    if not refused:
        specs = [item for item in user if isinstance(item, WorkflowSpec)]
        try:
            return WorkflowSet([*builtin_specs, *specs], node_types=node_types, builtin=builtin)
        except WorkflowError:
            if not set_aside_broken:
                raise
    return _set_aside_broken(builtin_specs, user, node_types)


def _set_aside_broken(
    builtin: list[WorkflowSpec],
    user: list[WorkflowSpec | WorkflowError],
    node_types: Mapping[str, Any] | None,
) -> WorkflowSet[Any]:
    """The built-ins and every user workflow that loads with them.

    The user files are added one at a time, keeping each that loads with those kept
    so far, and repeated until nothing more can be added (so a file that needs
    another comes in after it). What is left is broken, or needs a broken one.
    """
    names = [spec.name for spec in builtin]

    def attempt(specs: list[WorkflowSpec]) -> WorkflowSet[Any]:
        return WorkflowSet([*builtin, *specs], node_types=node_types, builtin=names)

    good: list[WorkflowSpec] = []
    pending = list(user)
    added = True
    while added and pending:
        added = False
        for item in list(pending):
            if isinstance(item, WorkflowError):
                continue
            try:
                attempt([*good, item])
            except WorkflowError:
                continue
            good.append(item)
            pending.remove(item)
            added = True
    problems: list[str] = []
    for item in pending:
        try:
            if isinstance(item, WorkflowError):
                raise item
            attempt([*good, item])
        except WorkflowError as exc:
            problems.extend(exc.problems)
    return WorkflowSet([*builtin, *good], node_types=node_types, builtin=names, broken=problems)
