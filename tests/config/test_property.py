"""Property tests: whatever YAML arrives — random text, random documents, documents shaped
like ours, or mutated examples — validate never shows a traceback and exits 0 or 1."""

from __future__ import annotations

import contextlib
import io
import re
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from metorial_apply.cli import main
from metorial_apply.cli.output import report_error
from metorial_apply.config.load import load_config
from metorial_apply.core.errors import ConfigError
from metorial_apply.core.kinds import SECTIONS

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").rglob("*.yaml"))
EXAMPLE_TEXTS = [p.read_text(encoding="utf-8") for p in EXAMPLES if "envs" not in p.parts]
FIELDS = sorted({f for k in SECTIONS.values() for f in k.model.model_fields} | {"tool_regex", "tool_keys"})
WORDS = ["github", "slack", "${env:X}", "${var.v}", "${file:x}", "$${", "${", "&a", "*a", "<<", "null", "-",
         "{", "}", "[", "]", ":", "\t", "'", '"', "!!int", "~", "yes", "0x1f", ".inf", "2001-01-01"]

SETTINGS = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=20),
                    st.sampled_from(WORDS + FIELDS))
json_like = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.one_of(st.text(max_size=10), st.sampled_from(FIELDS)), inner, max_size=4),
    ),
    max_leaves=20,
)
resource = st.dictionaries(st.sampled_from(FIELDS), json_like, max_size=6)
section = st.one_of(
    json_like, st.dictionaries(st.sampled_from(["github", "slack", "a", "b", "x y"]), resource, max_size=3)
)
shaped = st.fixed_dictionaries({}, optional={
    "stack": st.one_of(st.sampled_from(["s", "prod", "${var.v}", "bad name"]), json_like),
    "variables": st.one_of(json_like, st.dictionaries(st.sampled_from(["v", "x", "bad name"]), scalars, max_size=3)),
    **dict.fromkeys(SECTIONS, section),
})


@contextlib.contextmanager
def config_dir() -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        yield Path(tmp)


def check(text: str) -> None:
    """load_config either succeeds or raises ConfigError with printable diagnostics."""
    with config_dir() as tmp:
        (tmp / "stack.yaml").write_text(text, encoding="utf-8")
        try:
            load_config(tmp, env={"X": "secret-x"})
        except ConfigError as exc:
            assert exc.diagnostics
            # YAML breaks lines at \r\n, \r, \n, NEL, LS and PS, and so do its positions.
            lines = len(re.findall("\r\n|[\n\r\x85\u2028\u2029]", text)) + 2
            for d in exc.diagnostics:
                assert d.message and "Traceback" not in d.message
                assert d.line is None or 1 <= d.line <= lines
            with contextlib.redirect_stderr(io.StringIO()) as err:
                report_error(exc)
            assert "nothing was sent to the API" in err.getvalue()


def dump(data: Any) -> str:
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False)


@SETTINGS
@given(
    st.lists(st.sampled_from(list("ab:- \n\t{}[],&*!|>'\"#%@`$~?.09xy_\x00é") + WORDS + FIELDS), max_size=60).map(
        "".join
    )
)
def test_random_text_never_crashes(text: str) -> None:
    check(text)


@SETTINGS
@given(st.one_of(json_like, shaped))
def test_random_documents_never_crash(data: Any) -> None:
    check(dump(data))


@st.composite
def mutated_example(draw: st.DrawFn) -> str:
    lines = draw(st.sampled_from(EXAMPLE_TEXTS)).splitlines()
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["delete", "duplicate", "indent", "dedent", "insert", "swap", "replace"]))
        if op == "delete" and len(lines) > 1:
            del lines[i]
        elif op == "duplicate":
            lines.insert(i, lines[i])
        elif op == "indent":
            lines[i] = draw(st.sampled_from([" ", "  ", "\t"])) + lines[i]
        elif op == "dedent":
            lines[i] = lines[i][draw(st.integers(1, 3)):]
        elif op == "insert":
            at = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:at] + draw(st.sampled_from(WORDS + FIELDS)) + lines[i][at:]
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        elif op == "replace":
            lines[i] = lines[i].replace(draw(st.sampled_from(["github", ":", "-", "{", "value", "$"])),
                                        draw(st.sampled_from(WORDS + FIELDS)), 1)
    return "\n".join(lines) + "\n"


@SETTINGS
@given(mutated_example())
def test_mutated_examples_never_crash(text: str) -> None:
    check(text)


@settings(max_examples=100, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.one_of(mutated_example(), st.builds(dump, shaped)))
def test_validate_cli_exits_0_or_1_without_traceback(text: str) -> None:
    with config_dir() as tmp:
        (tmp / "stack.yaml").write_text(text, encoding="utf-8")
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exc:
            main(["validate", str(tmp)])
    assert exc.value.code in (0, 1), err.getvalue()
    assert "Traceback" not in err.getvalue() and "internal error" not in err.getvalue()
    assert (exc.value.code == 0) == out.getvalue().startswith("Valid: ")
