"""YAML text → plain JSON-like data plus the file position of every value and key.

PyYAML's composer gives nodes with marks; converting nodes ourselves (instead of
`yaml.safe_load`) lets us report duplicate keys, keep plain keys as written (`on:` stays the
string "on"), refuse non-JSON values, and point every later error at a file, line and column.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from metorial_apply.core.errors import ConfigError, Diagnostic
from metorial_apply.core.localfile import FileReadError, read_regular

YamlPath = tuple[str | int, ...]

MAX_DEPTH = 64  # deeper documents are not configuration; stop before Python's recursion limit
MAX_VALUES = 100_000  # bounds alias expansion ("billion laughs")

TAG = "tag:yaml.org,2002:"
MERGE_TAG = TAG + "merge"
_constructor = yaml.SafeLoader("")  # only its stateless scalar constructors are used
_SCALARS = {
    TAG + "null": _constructor.construct_yaml_null, TAG + "bool": _constructor.construct_yaml_bool,
    TAG + "int": _constructor.construct_yaml_int, TAG + "float": _constructor.construct_yaml_float,
}

if getattr(yaml, "__with_libyaml__", False):
    from yaml._yaml import CParser

    class _FastLoader(yaml.composer.Composer, CParser, yaml.resolver.Resolver):  # type: ignore[misc]
        """libyaml's C scanner and parser (most of the time at 10,000 resources) under PyYAML's
        own Python composer: the same nodes and marks as SafeLoader's, and deep nesting still
        raises RecursionError. libyaml's C composer is not used: it recurses without a limit
        and a deeply nested flow collection crashes the process."""

        def __init__(self, stream: str) -> None:
            CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.resolver.Resolver.__init__(self)

    _LOADER: type = _FastLoader
else:  # PyYAML built without libyaml
    _LOADER = yaml.SafeLoader


@dataclass(frozen=True)
class Pos:
    """A 1-based position in a file."""

    file: str
    line: int
    column: int


def format_path(path: YamlPath) -> str:
    """("configs", "gh", "providers", 0) → "configs.gh.providers[0]"."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def value_at(data: Any, path: YamlPath) -> Any:
    """The value at `path` of a document's data (the path must exist)."""
    for part in path:
        data = data[part]
    return data


def diagnostic(pos: Pos | None, path: YamlPath, message: str, hint: str | None = None) -> Diagnostic:
    """A Diagnostic at `pos` for the YAML path `path`."""
    return Diagnostic(
        message=message, file=pos.file if pos else None, line=pos.line if pos else None,
        column=pos.column if pos else None, path=format_path(path) or None, hint=hint,
    )


@dataclass(frozen=True)
class Document:
    """One parsed YAML file: its data and where each value (and each mapping key) was written."""

    file: str
    data: Any
    values: dict[YamlPath, Pos] = field(default_factory=dict)
    keys: dict[YamlPath, Pos] = field(default_factory=dict)

    def value_pos(self, path: YamlPath) -> Pos:
        """Position of the value at `path`, else of its nearest written ancestor."""
        for i in range(len(path), -1, -1):
            found = self.values.get(path[:i])
            if found:
                return found
        return Pos(self.file, 1, 1)

    def key_pos(self, path: YamlPath) -> Pos:
        """Position of the key naming `path` (for mapping entries), else of its value."""
        return self.keys.get(path) or self.value_pos(path)


def _pos(file: str, mark: yaml.Mark | None) -> Pos:
    return Pos(file, mark.line + 1, mark.column + 1) if mark else Pos(file, 1, 1)


class _Builder:
    """Converts one composed node tree, collecting diagnostics instead of stopping at the first."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.values: dict[YamlPath, Pos] = {}
        self.keys: dict[YamlPath, Pos] = {}
        self.problems: list[Diagnostic] = []
        self.count = 0
        self.active: set[int] = set()  # nodes on the current path, to catch recursive aliases

    def fail(self, node: Node, path: YamlPath, message: str, hint: str | None = None) -> None:
        self.problems.append(diagnostic(_pos(self.file, node.start_mark), path, message, hint))

    def build(self, node: Node, path: YamlPath) -> Any:
        self.count += 1
        if self.count > MAX_VALUES:
            if self.count == MAX_VALUES + 1:
                self.fail(node, path, f"the document expands to more than {MAX_VALUES} values (aliases?)")
            return None
        if len(path) > MAX_DEPTH:
            self.fail(node, path, f"nesting deeper than {MAX_DEPTH} levels")
            return None
        if id(node) in self.active:
            self.fail(node, path, "an alias refers to a value that contains it (recursive alias)")
            return None
        self.values.setdefault(path, _pos(self.file, node.start_mark))
        self.active.add(id(node))
        try:
            if isinstance(node, MappingNode):
                return self.mapping(node, path)
            if isinstance(node, SequenceNode):
                return [self.build(item, path + (i,)) for i, item in enumerate(node.value)]
            return self.scalar(node, path)
        finally:
            self.active.discard(id(node))

    def scalar(self, node: Node, path: YamlPath) -> Any:
        tag = node.tag or ""
        if tag == TAG + "str":
            return node.value
        if tag in (TAG + "timestamp", TAG + "binary"):
            return node.value  # kept as written: the API wants JSON strings, not dates
        if tag not in _SCALARS:
            self.fail(node, path, f"unsupported YAML tag {tag.replace(TAG, '!!')}",
                      "use plain strings, numbers, booleans, lists and mappings")
            return None
        try:
            value = _SCALARS[tag](node)
        except Exception:  # PyYAML's constructors fail in many ways on odd tagged scalars (`!!int ""`)
            self.fail(node, path, "this scalar cannot be read as a " + tag.replace(TAG, ""))
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.fail(node, path, "not a finite number (JSON has no NaN or infinity)", "quote it to make it a string")
            return None
        return value

    def mapping(self, node: MappingNode, path: YamlPath) -> dict[str, Any]:
        out: dict[str, Any] = {}
        first: dict[str, Pos] = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                continue  # merged after explicit keys so explicit keys win
            key = self.key(key_node, path)
            if key is None:
                continue
            here = _pos(self.file, key_node.start_mark)
            if key in first:
                self.problems.append(diagnostic(
                    here, path, f'duplicate key "{key}" (first defined at line {first[key].line})',
                    "YAML keeps only one of them; remove or rename one"))
                continue
            first[key] = here
            self.keys.setdefault(path + (key,), here)  # a merged source must not move explicit keys
            out[key] = self.build(value_node, path + (key,))
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                self.merge(value_node, path, out)
        return out

    def key(self, node: Node, path: YamlPath) -> str | None:
        if not isinstance(node, ScalarNode):
            self.fail(node, path, "mapping keys must be plain strings, not lists or mappings")
            return None
        return str(node.value)

    def merge(self, node: Node, path: YamlPath, out: dict[str, Any]) -> None:
        sources = node.value if isinstance(node, SequenceNode) else [node]
        for source in sources:
            if not isinstance(source, MappingNode):
                self.fail(source, path, "a merge key (<<) takes a mapping or a list of mappings")
                continue
            merged = self.build(source, path)
            if isinstance(merged, dict):
                for key, value in merged.items():
                    out.setdefault(key, value)


def _syntax_error(file: str, text: str, exc: yaml.YAMLError) -> Diagnostic:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if isinstance(exc, yaml.reader.ReaderError):
        line = text[: exc.position].count("\n") + 1
        return Diagnostic("the file contains a character YAML does not allow (control character?)",
                          file=file, line=line)
    problem = str(getattr(exc, "problem", None) or "not valid YAML").strip()
    context = getattr(exc, "context", None)
    message = f"invalid YAML: {problem}" + (f" ({context})" if context else "")
    hint = None
    if "\\t" in problem or "\t" in problem:
        hint = "YAML does not allow tabs for indentation; indent with spaces"
    elif "alias" in problem:
        hint = "define the anchor (&name) before using the alias (*name)"
    elif "single document" in (problem + (context or "")):
        message, hint = "the file holds several YAML documents (---)", "keep one document per file"
    return Diagnostic(message=message, file=file, line=mark.line + 1 if mark else None,
                      column=mark.column + 1 if mark else None, hint=hint)


def _compose(text: str) -> Node | None:
    try:
        return yaml.compose(text, Loader=_LOADER)
    except yaml.YAMLError:
        # libyaml words its errors differently: the pure-Python parser's are the diagnostics.
        return yaml.compose(text, Loader=yaml.SafeLoader)


def parse_yaml(text: str, file: str) -> Document:
    """Parse one YAML document; raises ConfigError with every problem found in it."""
    try:
        root = _compose(text)
    except yaml.YAMLError as exc:
        raise ConfigError([_syntax_error(file, text, exc)]) from None
    except RecursionError:
        raise ConfigError([Diagnostic(f"nesting deeper than {MAX_DEPTH} levels", file=file)]) from None
    if root is None:
        raise ConfigError([Diagnostic("the file is empty", file=file, line=1, column=1,
                                      hint="add `stack:` and at least one section, or delete the file")])
    builder = _Builder(file)
    data = builder.build(root, ())
    if builder.problems:
        raise ConfigError(builder.problems)
    return Document(file=file, data=data, values=builder.values, keys=builder.keys)


MAX_YAML_BYTES = 16 << 20  # a configuration file; far above any stack of 10,000 resources


def read_yaml_file(path: str, display: str) -> Document:
    """Read and parse a YAML file; unreadable or non-UTF-8 files become diagnostics."""
    try:
        raw = read_regular(path, MAX_YAML_BYTES)
    except FileReadError as exc:
        raise ConfigError([Diagnostic(f"the file {exc.reason}", file=display)]) from None
    except OSError as exc:
        raise ConfigError([Diagnostic(f"cannot read the file: {exc.strerror or 'error'}", file=display)]) from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ConfigError([Diagnostic("the file is not UTF-8 text", file=display)]) from None
    return parse_yaml(text, display)
