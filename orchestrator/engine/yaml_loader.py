"""YAML parsing that keeps a `line:col` for every node, scalars included.

Built on PyYAML's `compose()` (which marks every node), with a YAML 1.2 *core schema*
resolver: only `true`/`false` are booleans (`no`, `on`, `NO`, `yes` stay strings), `9:30`
and dates stay strings, and duplicate keys are reported instead of silently overwritten.
The result is plain Python data plus a `SourceMap` from data paths to positions.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.composer import Composer
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from yaml.parser import Parser
from yaml.reader import Reader
from yaml.resolver import BaseResolver
from yaml.scanner import Scanner

from .diagnostics import (
    E_DUPLICATE_KEY,
    E_YAML,
    E_YAML_UNSUPPORTED,
    Diagnostic,
)

Path = tuple[str | int, ...]

_T = "tag:yaml.org,2002:"


class _CoreResolver(BaseResolver):
    """Implicit tags of the YAML 1.2 core schema (no YAML 1.1 yes/no/on/off, no sexagesimal)."""

    yaml_implicit_resolvers: dict = {}


_CoreResolver.add_implicit_resolver(
    _T + "bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_CoreResolver.add_implicit_resolver(
    _T + "int",
    re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$"),
    list("-+0123456789"),
)
_CoreResolver.add_implicit_resolver(
    _T + "float",
    re.compile(
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
        r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
    ),
    list("-+0123456789."),
)
_CoreResolver.add_implicit_resolver(_T + "null", re.compile(r"^(?:~|null|Null|NULL|)$"), ["~", "n", "N", ""])
_CoreResolver.add_implicit_resolver(_T + "merge", re.compile(r"^<<$"), ["<"])


class _CoreLoader(Reader, Scanner, Parser, Composer, _CoreResolver):
    """A composer-only loader: nodes with marks, no object construction."""

    def __init__(self, stream: str):
        Reader.__init__(self, stream)
        Scanner.__init__(self)
        Parser.__init__(self)
        Composer.__init__(self)
        _CoreResolver.__init__(self)


@dataclass(frozen=True, slots=True)
class NodePos:
    """Where a value starts, where its key starts (mapping values only), and its kind."""

    line: int
    col: int
    key_line: int = 0
    key_col: int = 0
    container: bool = False


@dataclass(slots=True)
class SourceMap:
    """Positions of every node of one file, by data path (`("flows", "faq", "steps", 3)`)."""

    file: str
    nodes: dict[Path, NodePos] = field(default_factory=dict)

    def pos(self, path: Sequence[str | int], *, key: bool = False) -> tuple[int, int]:
        """Position of the node at `path`, or of its closest existing ancestor."""
        p = tuple(path)
        while p not in self.nodes and p:
            p = p[:-1]
        node = self.nodes.get(p)
        if node is None:
            return (1, 1)
        if key and node.key_line:
            return (node.key_line, node.key_col)
        return (node.line, node.col)

    def resolve_loc(self, loc: Sequence[str | int]) -> Path:
        """Map a pydantic error `loc` onto a data path.

        A loc also holds union tags and model names that are not in the data; they are skipped.
        An element is taken when the data has it and it either leads into a container or is
        the last element (a tag that happens to equal a scalar key is then skipped).
        """
        path: Path = ()
        last = len(loc) - 1
        while last > 0 and loc[last] == "[key]":
            last -= 1
        for i, part in enumerate(loc):
            if part == "[key]":
                continue
            candidate = (*path, part)
            node = self.nodes.get(candidate)
            if node is not None and (node.container or i == last):
                path = candidate
        return path


@dataclass(slots=True)
class ParsedYaml:
    """The data of one file, its positions, and its YAML problems."""

    data: Any
    source: SourceMap
    diagnostics: list[Diagnostic]


def parse_yaml(text: str, file: str) -> ParsedYaml:
    """Parse one YAML document; syntax errors and duplicate keys become diagnostics."""
    source = SourceMap(file)
    diags: list[Diagnostic] = []
    try:
        loader = _CoreLoader(text)
        try:
            root = loader.get_single_node()
        finally:
            loader.dispose()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (0, 0)
        message = " ".join(x for x in (exc.context, exc.problem) if x) or "invalid YAML"
        diags.append(Diagnostic(file, line, col, "error", E_YAML, message))
        return ParsedYaml(None, source, diags)
    except yaml.YAMLError as exc:  # pragma: no cover - reader errors without marks
        diags.append(Diagnostic(file, 0, 0, "error", E_YAML, str(exc)))
        return ParsedYaml(None, source, diags)
    if root is None:
        return ParsedYaml(None, source, diags)
    builder = _Builder(source, diags)
    data = builder.build(root, (), None)
    return ParsedYaml(data, source, diags)


class _Builder:
    """Turns composed nodes into Python data while recording positions."""

    def __init__(self, source: SourceMap, diags: list[Diagnostic]):
        self.source = source
        self.diags = diags
        self.active: set[int] = set()  # nodes being built (to catch recursive aliases)

    def error(self, node: Node, code: str, message: str) -> None:
        m = node.start_mark
        self.diags.append(Diagnostic(self.source.file, m.line + 1, m.column + 1, "error", code, message))

    def record(self, node: Node, path: Path, key: Node | None) -> None:
        m = node.start_mark
        km = key.start_mark if key is not None else None
        self.source.nodes[path] = NodePos(
            m.line + 1,
            m.column + 1,
            km.line + 1 if km else 0,
            km.column + 1 if km else 0,
            isinstance(node, MappingNode | SequenceNode),
        )

    def build(self, node: Node, path: Path, key: Node | None) -> Any:
        self.record(node, path, key)
        if isinstance(node, ScalarNode):
            return self.scalar(node)
        if id(node) in self.active:
            self.error(node, E_YAML_UNSUPPORTED, "recursive alias")
            return None
        self.active.add(id(node))
        try:
            if isinstance(node, SequenceNode):
                return [self.build(item, (*path, i), None) for i, item in enumerate(node.value)]
            return self.mapping(node, path)
        finally:
            self.active.discard(id(node))

    def mapping(self, node: MappingNode, path: Path) -> dict[str, Any]:
        result: dict[str, Any] = {}
        first_seen: dict[str, Node] = {}
        merges: list[Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _T + "merge":
                merges.append(value_node)
                continue
            if not isinstance(key_node, ScalarNode):
                self.error(key_node, E_YAML_UNSUPPORTED, "mapping keys must be plain scalars")
                continue
            key = key_node.value
            if key in first_seen:
                prev = first_seen[key].start_mark
                self.error(
                    key_node,
                    E_DUPLICATE_KEY,
                    f"duplicate key '{key}' (first defined at line {prev.line + 1})",
                )
                continue
            first_seen[key] = key_node
            result[key] = self.build(value_node, (*path, key), key_node)
        # `<<` merge keys: explicit keys win, earlier merges win over later ones.
        for merge in merges:
            sources = merge.value if isinstance(merge, SequenceNode) else [merge]
            for src in sources:
                if not isinstance(src, MappingNode):
                    self.error(src, E_YAML_UNSUPPORTED, "'<<' merges only mappings")
                    continue
                for key_node, value_node in src.value:
                    if isinstance(key_node, ScalarNode) and key_node.value not in result:
                        key = key_node.value
                        result[key] = self.build(value_node, (*path, key), key_node)
        return result

    def scalar(self, node: ScalarNode) -> Any:
        tag, value = node.tag, node.value
        if tag == _T + "str":
            return value
        if tag == _T + "null":
            return None
        if tag == _T + "bool":
            if value.lower() in ("true", "false"):
                return value.lower() == "true"
        elif tag == _T + "int":
            try:
                if value.startswith("0o"):
                    return int(value[2:], 8)
                return int(value, 16) if value.startswith("0x") else int(value)
            except ValueError:
                pass
        elif tag == _T + "float":
            try:
                v = value.lower().lstrip("+")
                if v.endswith(".inf"):
                    return -math.inf if v.startswith("-") else math.inf
                return math.nan if v == ".nan" else float(value)
            except ValueError:
                pass
        else:
            self.error(node, E_YAML_UNSUPPORTED, f"unsupported tag '{tag}'")
            return value
        self.error(node, E_YAML_UNSUPPORTED, f"'{value}' is not a valid {tag[len(_T) :]}")
        return value
