"""The pieces of the language on their own: interpolation, YAML positions, references."""

from __future__ import annotations

import pytest

from metorial_apply.config.interpolate import InterpolationError, Sources, Variable, interpolate
from metorial_apply.config.references import dependency_order, fill_providers, parse_spec_path
from metorial_apply.config.yamlsource import MAX_VALUES, Pos, format_path, parse_yaml
from metorial_apply.core.errors import ConfigError
from metorial_apply.core.model import Address, Resource


def no_file(path: str) -> str:
    raise InterpolationError(f"no file {path}")


SOURCES = Sources(env={"TOKEN": "t0k", "EMPTY": ""}, variables={"env": Variable("prod"), "s": Variable("x", True)},
                  read_file=lambda p: f"<{p}>")


@pytest.mark.parametrize("text, value, sensitive", [
    ("plain", "plain", False),
    ("${var.env}", "prod", False),
    ("a-${var.env}-b", "a-prod-b", False),
    ("${env:TOKEN}", "t0k", True),
    ("${env:EMPTY:-fallback}", "", True),  # set but empty is still set
    ("${env:UNSET:-fallback}", "fallback", True),
    ("${env:UNSET:-}", "", True),
    ("${file:a/b.txt}", "<a/b.txt>", True),
    ("${var.s}", "x", True),  # a variable that came from env stays secret
    ("$${var.env}", "${var.env}", False),
    ("$$${var.env}", "$${var.env}", False),  # a lone $, then the escape
    ("cost: $5", "cost: $5", False),
    ("}${var.env}{", "}prod{", False),
])
def test_interpolation(text: str, value: str, sensitive: bool) -> None:
    found = interpolate(text, SOURCES)
    assert (found.value, found.sensitive) == (value, sensitive)
    assert "t0k" not in repr(found)


@pytest.mark.parametrize("text, message", [
    ("${env:UNSET}", "environment variable UNSET is not set"),
    ("${env:}", "not an environment variable name"),
    ("${var.nope}", "variable nope is not defined"),
    ("${var.}", "not a variable name"),
    ("${file:}", "${file:} needs a path"),
    ("${secret:x}", "unknown interpolation ${secret:x}"),
    ("${var.env", "unterminated ${"),
])
def test_interpolation_errors_name_the_reference(text: str, message: str) -> None:
    with pytest.raises(InterpolationError) as exc:
        interpolate(text, SOURCES)
    assert message in exc.value.message


def test_variables_cannot_reference_variables() -> None:
    with pytest.raises(InterpolationError, match="cannot be used here"):
        interpolate("${var.env}", Sources(env={}, variables=None, read_file=no_file))


def test_positions_of_values_and_keys() -> None:
    doc = parse_yaml("a:\n  b: [x, {c: 1}]\n  'd e': v\n", "f.yaml")
    assert doc.value_pos(("a", "b", 1, "c")) == Pos("f.yaml", 2, 14)
    assert doc.key_pos(("a", "b")) == Pos("f.yaml", 2, 3)
    assert doc.key_pos(("a", "d e")) == Pos("f.yaml", 3, 3)
    assert doc.value_pos(("a", "b", 7)) == Pos("f.yaml", 2, 6)  # unknown path: nearest ancestor
    assert format_path(("a", "b", 1, "c")) == "a.b[1].c"
    assert parse_spec_path("providers[10].config") == ("providers", 10, "config")


def test_all_duplicate_keys_are_reported_at_once() -> None:
    with pytest.raises(ConfigError) as exc:
        parse_yaml("a: 1\nb: 2\na: 3\nb: 4\n", "f.yaml")
    assert [(d.line, d.message) for d in exc.value.diagnostics] == [
        (3, 'duplicate key "a" (first defined at line 1)'), (4, 'duplicate key "b" (first defined at line 2)')]


def test_alias_bombs_and_deep_nesting_are_bounded() -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{n}: &{n} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, n in zip("abcdef", "bcdefg", strict=False)
    )
    with pytest.raises(ConfigError) as exc:
        parse_yaml(bomb, "f.yaml")
    assert f"more than {MAX_VALUES} values" in exc.value.diagnostics[0].message
    with pytest.raises(ConfigError) as exc:
        parse_yaml("a: " + "[" * 5000 + "]" * 5000, "f.yaml")
    assert "nesting deeper" in exc.value.diagnostics[0].message


def test_timestamps_and_binary_stay_strings_and_large_numbers_survive() -> None:
    doc = parse_yaml("a: 2001-12-14\nb: 123456789012345678901234567890\nc: 1.5e+3\nd: !!str 12\n", "f.yaml")
    assert doc.data == {"a": "2001-12-14", "b": 123456789012345678901234567890, "c": 1500.0, "d": "12"}


def resource(kind: str, name: str, **spec: object) -> Resource:
    return Resource(address=Address(kind=kind, name=name), spec=dict(spec))


def test_cycles_are_named() -> None:
    a, b, c = (Address(kind="config", name=n) for n in "abc")
    order, problems = dependency_order([a, b, c], {a: [(("x",), b)], b: [(("x",), c)], c: [(("x",), a)]})
    assert len(problems) == 1 and problems[0].message.startswith("reference cycle: config.")
    assert problems[0].message.count("→") == 3
    order, problems = dependency_order([a, b, c], {a: [(("x",), b)], b: [(("x",), c)]})
    assert not problems and order == [c, b, a]


def test_providers_fill_transitively_and_compare_canonically() -> None:
    deployment = resource("deployment", "d", provider="github")
    vault = resource("config_vault", "v", deployment="d", provider=None)
    config = resource("config", "c", vault="v", provider=None)
    refs = {vault.address: [(("deployment",), deployment.address)], config.address: [(("vault",), vault.address)]}
    everything = {r.address: r for r in (config, vault, deployment)}
    order, _ = dependency_order(everything, refs)
    filled, problems = fill_providers(everything, refs, order)
    assert not problems and filled[config.address].spec["provider"] == "github"
    by_id = {**everything, config.address: resource("config", "c", vault="v", provider="pro_1")}
    assert not fill_providers(by_id, refs, order)[1]  # offline an id is not compared
    assert fill_providers(by_id, refs, order, canonical=True)[1]  # after resolution it is
