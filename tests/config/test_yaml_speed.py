"""The fast YAML path (libyaml's C parser under PyYAML's Python composer) gives the same nodes
as the pure-Python SafeLoader, the pure-Python diagnostics on bad input, and a diagnostic, never
a crash, on nesting deep enough to crash libyaml's own C composer."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from metorial_apply.config import yamlsource
from metorial_apply.config.yamlsource import parse_yaml
from metorial_apply.core.errors import ConfigError

EXAMPLES = sorted((Path(__file__).resolve().parents[2] / "examples").rglob("*.yaml"))


def shape(node: yaml.Node) -> object:
    """Everything the builder reads from a node: tag, marks, value (recursively)."""
    where = (node.tag, node.start_mark.line, node.start_mark.column)
    if isinstance(node, yaml.ScalarNode):
        return where, node.value  # style is not read (plain is None here, "" from libyaml)
    if isinstance(node, yaml.SequenceNode):
        return where, [shape(n) for n in node.value]
    return where, [(shape(k), shape(v)) for k, v in node.value]


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_same_nodes_as_the_pure_python_loader(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    assert shape(yamlsource._compose(text)) == shape(yaml.compose(text, Loader=yaml.SafeLoader))  # type: ignore[arg-type]


def test_bad_yaml_gets_the_pure_python_diagnostic() -> None:
    with pytest.raises(ConfigError) as info:
        parse_yaml("stack: s\ndeployments:\n\tgh: {provider: github}\n", "bad.yaml")
    assert "tabs" in (info.value.diagnostics[0].hint or "") and info.value.diagnostics[0].line == 3


def test_deep_flow_nesting_is_a_diagnostic_not_a_crash() -> None:
    depth = 100_000  # libyaml's C composer segfaults here
    with pytest.raises(ConfigError) as info:
        parse_yaml("a: " + "[" * depth + "]" * depth + "\n", "deep.yaml")
    assert "nesting deeper" in info.value.diagnostics[0].message
