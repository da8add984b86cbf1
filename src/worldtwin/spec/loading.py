"""Read and write twin spec YAML, turning every failure into a located, actionable :class:`SpecError`.

The YAML is composed into a node tree first so that each problem — a syntax error, a duplicate key,
a wrong type, a reference to an unknown tag — can be reported as ``file:line key: message`` with the
bad value, what was expected and how to fix it.
"""

from __future__ import annotations

import difflib
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from worldtwin.errors import Problem, SpecError
from worldtwin.spec.checks import check_twin
from worldtwin.spec.schema import METADATA_NAME_PATTERN, SPEC_MODELS, TAG_NAME_PATTERN, Twin

_ALL_FIELDS = sorted({name for model in SPEC_MODELS for name in model.model_fields})


def load_spec(source: str | Path) -> Twin:
    """Load and validate a twin spec from a YAML file.

    Raises :class:`SpecError` listing every problem with its line number.
    """
    path = Path(source)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(
            [
                Problem(
                    (),
                    "file not found",
                    value=str(path),
                    hint="check the path, or create one with 'worldtwin spec infer'",
                )
            ],
            str(path),
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise SpecError(
            [Problem((), f"cannot read the file: {exc}", hint="the spec must be UTF-8 YAML")], str(path)
        ) from None
    return parse_spec(text, source=str(path))


def parse_spec(text: str, source: str = "<string>") -> Twin:
    """Validate a twin spec given as YAML text (see :func:`load_spec`)."""
    root = _compose(text, source)
    data = _construct(root, source)
    if not isinstance(data, dict):
        kind = "empty" if data is None else type(data).__name__
        raise SpecError(
            [
                Problem(
                    (),
                    f"the document is {kind}, not a mapping",
                    value=None if data is None else data,
                    expected="a YAML mapping with metadata, sample_period, tags, ...",
                    hint="see the spec reference in README.md or run 'worldtwin spec infer'",
                    line=1,
                )
            ],
            source,
        )
    try:
        twin = Twin.model_validate(data)
    except ValidationError as exc:
        raise SpecError([_locate(_from_pydantic(err), root) for err in exc.errors()], source) from None
    problems = check_twin(twin)
    if problems:
        raise SpecError([_locate(p, root) for p in problems], source)
    return twin


def dump_spec(twin: Twin) -> str:
    """The spec as YAML text, defaults omitted, keys in schema order."""
    data = twin.model_dump(mode="json", exclude_defaults=True)
    data.setdefault("sample_period", twin.sample_period)
    return yaml.dump(data, Dumper=_SpecDumper, sort_keys=False, allow_unicode=True, width=110)


class _SpecDumper(yaml.SafeDumper):
    """Writes short lists of numbers (ranges, bounds) on one line: ``range: [0.0, 5.0]``."""


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    flow = all(isinstance(item, int | float | str) for item in data) and len(data) <= 4
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=flow)


_SpecDumper.add_representer(list, _represent_list)


def save_spec(twin: Twin, path: str | Path) -> Path:
    """Write ``twin`` as YAML; loading the file gives back an equal spec."""
    out = Path(path)
    out.write_text(dump_spec(twin), encoding="utf-8")
    return out


# --- YAML with locations ------------------------------------------------------------------------


def _compose(text: str, source: str) -> yaml.Node | None:
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise SpecError(
            [
                Problem(
                    (),
                    f"invalid YAML: {exc.problem or exc.context}",
                    line=line,
                    hint="check indentation, colons and quotes on this line and the one above",
                )
            ],
            source,
        ) from None
    except yaml.YAMLError as exc:
        raise SpecError([Problem((), f"invalid YAML: {exc}")], source) from None


def _construct(node: yaml.Node | None, source: str) -> Any:
    if node is None:
        return None
    duplicates = list(_duplicate_keys(node, ()))
    if duplicates:
        raise SpecError(duplicates, source)
    loader = yaml.SafeLoader("")
    try:
        return loader.construct_document(node)
    except yaml.constructor.ConstructorError as exc:
        mark = exc.problem_mark
        raise SpecError(
            [Problem((), f"invalid YAML value: {exc.problem}", line=mark.line + 1 if mark else None)], source
        ) from None
    finally:
        loader.dispose()


def _duplicate_keys(node: yaml.Node, path: tuple[str | int, ...]) -> Any:
    """YAML silently keeps the last of two equal keys; a spec must not."""
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                yield Problem(
                    (*path, key),
                    f"duplicate key {key!r}",
                    line=key_node.start_mark.line + 1,
                    expected="each key once per mapping",
                    hint="remove or merge the repeated key",
                )
            seen.add(key)
            yield from _duplicate_keys(value_node, (*path, key))
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            yield from _duplicate_keys(item, (*path, i))


def _node_at(root: yaml.Node | None, path: tuple[str | int, ...]) -> tuple[yaml.Node | None, bool]:
    """The deepest node along ``path``, and whether the whole path was found."""
    node = root
    for part in path:
        child = None
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                if key_node.value == str(part):
                    child = value_node
                    break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int) and part < len(node.value):
            child = node.value[part]
        if child is None:
            return node, False
        node = child
    return node, True


def _key_line(root: yaml.Node | None, path: tuple[str | int, ...]) -> int | None:
    """Line of the key itself for a mapping entry (points at 'rnage:' rather than at its value)."""
    parent, found = _node_at(root, path[:-1])
    if found and isinstance(parent, yaml.MappingNode):
        for key_node, _ in parent.value:
            if key_node.value == str(path[-1]):
                return int(key_node.start_mark.line) + 1
    return None


def _locate(problem: Problem, root: yaml.Node | None) -> Problem:
    if problem.line is not None or root is None:
        return problem
    line = _key_line(root, problem.path) if problem.path else None
    if line is None:
        node, _ = _node_at(root, problem.path)
        line = node.start_mark.line + 1 if node is not None else None
    return Problem(problem.path, problem.message, problem.value, problem.expected, problem.hint, line)


# --- pydantic errors → problems -----------------------------------------------------------------

_SOURCE_TYPES = ("csv", "parquet", "opcua", "mqtt", "simulator")  # pydantic's union-branch names in locs
_DURATION_FIELDS = ("sample_period", "sampling_period", "publishing_interval")
_PATTERNS = {
    TAG_NAME_PATTERN: "letters, digits, '_', '.', ':' or '-', starting with a letter or '_' (no spaces)",
    METADATA_NAME_PATTERN: "lowercase letters, digits, '-' or '_', e.g. 'reactor-2'",
}
_EXPECTED = {
    "float_parsing": ("a number", "write a plain number without units (units belong in the tag's 'unit')"),
    "float_type": ("a number", "write a plain number"),
    "int_parsing": ("a whole number", "write a whole number"),
    "int_type": ("a whole number", "write a whole number"),
    "bool_parsing": ("true or false", "write true or false"),
    "bool_type": ("true or false", "write true or false"),
    "string_type": ("a string", "quote the value"),
    "list_type": ("a list", "write a YAML list ('- item' lines or [a, b])"),
    "dict_type": ("a mapping (key: value)", "write 'key: value' lines"),
    "model_type": ("a mapping (key: value)", "write 'key: value' lines"),
    "greater_than": ("", "use a positive number"),
    "greater_than_equal": ("", "use a larger number"),
    "less_than_equal": ("", "use a smaller number"),
    "too_short": ("", "add the missing entries"),
}


def _from_pydantic(err: Any) -> Problem:
    loc = tuple(p for p in err["loc"] if p not in _SOURCE_TYPES)
    kind, value = err["type"], err.get("input")
    field = str(loc[-1]) if loc else "?"
    if loc and isinstance(loc[-1], int) and len(loc) > 1 and loc[-2] in ("range", "bounds"):
        loc, field = loc[:-1], str(loc[-2])  # a [min, max] pair with a bad element: report the pair
    if kind == "extra_forbidden":
        close = difflib.get_close_matches(field, _ALL_FIELDS, n=1, cutoff=0.6)
        return Problem(
            loc,
            f"unknown key {field!r}",
            expected="a key defined by the spec schema",
            hint=f"did you mean {close[0]!r}?" if close else "remove it; see the spec reference",
        )
    if field in ("range", "bounds"):
        if kind == "value_error":
            return Problem(
                loc,
                _message(err),
                value=value,
                expected="[min, max] with min < max",
                hint="swap the two values, or correct the typo",
            )
        return Problem(
            loc,
            "must be a list of two numbers",
            value=value,
            expected="[min, max]",
            hint="write it as [min, max], e.g. [0, 100]",
        )
    if kind == "missing":
        return Problem(
            loc,
            f"required key {field!r} is missing",
            expected=f"'{field}:' under {_parent(loc)}",
            hint="add it; see the spec reference in README.md",
        )
    if kind == "union_tag_invalid":
        return Problem(
            loc,
            "unknown source type",
            value=value.get("type") if isinstance(value, dict) else value,
            expected="type: csv, parquet, opcua, mqtt or simulator",
            hint="fix the 'type:' value",
        )
    if kind == "union_tag_not_found":
        return Problem(
            loc,
            "source has no 'type'",
            expected="type: csv, parquet, opcua, mqtt or simulator",
            hint="add a 'type:' key",
        )
    if kind == "literal_error":
        return Problem(
            loc,
            "value not allowed",
            value=value,
            expected=err["ctx"]["expected"],
            hint="use one of the listed values",
        )
    if field in _DURATION_FIELDS and kind in ("value_error", "greater_than"):
        return Problem(
            loc,
            _message(err),
            value=value,
            expected="a positive duration: seconds, or e.g. '500 ms', '10 s', '5 min'",
            hint="write a number of seconds or a quantity with a time unit",
        )
    if kind == "string_pattern_mismatch":
        allowed = _PATTERNS.get(err["ctx"]["pattern"], f"text matching {err['ctx']['pattern']}")
        return Problem(
            loc, f"{value!r} is not a valid {field}", value=value, expected=allowed, hint="rename it"
        )
    expected, hint = _EXPECTED.get(kind, ("", "correct the value"))
    ctx = err.get("ctx", {})
    if "gt" in ctx:
        expected = f"a number > {ctx['gt']}"
    elif "ge" in ctx:
        expected = f"a number >= {ctx['ge']}"
    elif "le" in ctx:
        expected = f"a number <= {ctx['le']}"
    elif "min_length" in ctx:
        expected = f"at least {ctx['min_length']} item(s)"
    return Problem(
        loc,
        _message(err),
        value=value if not isinstance(value, dict | list) else None,
        expected=expected,
        hint=hint,
    )


def _message(err: Any) -> str:
    message = str(err["msg"])
    return message.removeprefix("Value error, ")


def _parent(loc: tuple[str | int, ...]) -> str:
    return Problem(loc[:-1], "").key if len(loc) > 1 else "the top level"
