"""Variables for `${var.NAME}`: `variables:` in config files, then `--var-file` files in order,
then `--var NAME=VALUE` (later wins). Variable values may use `${env:}` and `${file:}` (then
they are secret) but not other variables.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from metorial_apply.config.interpolate import VAR_NAME, InterpolationError, Sources, Variable, interpolate
from metorial_apply.config.yamlsource import Document, Pos, diagnostic
from metorial_apply.core.errors import Diagnostic


@dataclass(frozen=True)
class Source:
    """A parsed YAML document with the `${file:}` reader for its location."""

    doc: Document
    read_file: Callable[[str], str]


def scalar_text(value: Any) -> str | None:
    """A YAML scalar as variable text (`true`, `3`, `x`), or None for lists, mappings and null."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (str, int, float)):
        return str(value)
    return None


def _raw_entries(source: Source, mapping: Any, base: tuple) -> tuple[list[tuple[str, str, Pos]], list[Diagnostic]]:
    """(name, raw text, position) of each variable in a mapping, with shape problems."""
    doc = source.doc
    if mapping is None:
        return [], []
    if not isinstance(mapping, dict):
        return [], [diagnostic(doc.value_pos(base), base, "variables must be a mapping of NAME: value")]
    out, problems = [], []
    for name, value in mapping.items():
        here = base + (name,)
        text = scalar_text(value)
        if not VAR_NAME.fullmatch(name):
            problems.append(diagnostic(doc.key_pos(here), base, f'"{name}" is not a variable name',
                                       "names are letters, digits, _ and -, starting with a letter or _"))
        elif text is None:
            problems.append(diagnostic(doc.value_pos(here), here, "a variable must be a string, number or boolean"))
        else:
            out.append((name, text, doc.value_pos(here)))
    return out, problems


def _resolve(source: Source, name: str, text: str, pos: Pos, base: tuple, env: Mapping[str, str],
             lenient: bool = False) -> tuple[Variable | None, Diagnostic | None]:
    try:
        found = interpolate(text, Sources(env=env, variables=None, read_file=source.read_file, lenient=lenient))
    except InterpolationError as exc:
        return None, diagnostic(pos, base + (name,), exc.message, exc.hint)
    if found.absent:  # lenient: the reference stands in for the secret; a warning, not an error
        first = found.absent[0]
        return Variable(found.value, True), replace(diagnostic(pos, base + (name,), first.message, first.hint),
                                                    warning=True)
    return Variable(found.value, found.sensitive), None


def _from_config(sources: list[Source], env: Mapping[str, str], lenient: bool
                 ) -> tuple[dict[str, Variable], list[Diagnostic]]:
    values: dict[str, Variable] = {}
    first: dict[str, tuple[str, Pos]] = {}
    problems: list[Diagnostic] = []
    for source in sources:
        data = source.doc.data
        if not isinstance(data, dict) or "variables" not in data:
            continue
        entries, shape = _raw_entries(source, data["variables"], ("variables",))
        problems += shape
        for name, text, pos in entries:
            if name in first and first[name][0] != text:
                where = first[name][1]
                problems.append(diagnostic(pos, ("variables", name), "variable defined twice with different values",
                                           f"first defined at {where.file}:{where.line}"))
                continue
            first.setdefault(name, (text, pos))
            value, problem = _resolve(source, name, text, pos, ("variables",), env, lenient)
            problems += [problem] if problem else []
            if value is not None:
                values[name] = value
    return values, problems


def collect_variables(config: list[Source], var_files: list[Source], cli: Mapping[str, str],
                      env: Mapping[str, str], lenient: bool = False) -> tuple[dict[str, Variable], list[Diagnostic]]:
    """All variables by precedence (CLI > var files in order > `variables:`), with every problem
    (`lenient`: an absent secret is a warning; see load_config)."""
    values, problems = _from_config(config, env, lenient)
    for source in var_files:
        entries, shape = _raw_entries(source, source.doc.data, ())
        problems += shape
        for name, text, pos in entries:
            value, problem = _resolve(source, name, text, pos, (), env, lenient)
            problems += [problem] if problem else []
            if value is not None:
                values[name] = value
    for name, text in cli.items():
        if not VAR_NAME.fullmatch(name):
            problems.append(
                Diagnostic(f'--var "{name}": not a variable name', hint="names are letters, digits, _ and -")
            )
            continue
        values[name] = Variable(text, False)  # given on the command line: taken literally
    return values, problems
