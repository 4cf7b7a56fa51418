"""JSON: versioned, checksummed, loadable as a saved plan, pure of I/O dependencies."""

from __future__ import annotations

import json
import subprocess
import sys

from metorial_apply.planning.saved import checksum, load_saved_plan
from metorial_apply.render import render_json
from tests.render.plans import CONTEXT, empty_plan, full_plan


def test_document_shape() -> None:
    doc = json.loads(render_json(full_plan(), CONTEXT))
    assert doc["format_version"] == 3 and doc["stack"] == "production"
    assert doc["summary"] == {"create": 3, "update": 2, "replace": 1, "delete": 1, "noop": 2, "import": 0,
                              "takeover": 0, "move": 0, "forget": 0, "rotate": 0}
    assert doc["destructive"] is True and doc["exit_code"] == 3
    assert doc["api_url"] == "https://api.metorial.com" and doc["tool_version"] == "0.1.0"
    update = next(c for c in doc["changes"] if c["address"] == "deployment.github")
    assert update["drift"] is True
    assert update["diffs"][1] == {
        "field": "tools",
        "before": ["create_issue"],
        "after": ["create_issue", "list_issues"],
        "secret": False,
    }


def test_checksum_covers_everything_else() -> None:
    doc = json.loads(render_json(full_plan(), CONTEXT))
    assert doc["checksum"] == checksum({k: v for k, v in doc.items() if k != "checksum"})


def test_output_loads_back_as_a_saved_plan() -> None:
    plan = full_plan()
    loaded = load_saved_plan(render_json(plan, CONTEXT))
    assert [(c.action, c.address) for c in loaded.changes] == [(c.action, c.address) for c in plan.changes]
    assert loaded.live_fingerprints == plan.live_fingerprints


def test_no_changes_exit_code_0() -> None:
    doc = json.loads(render_json(empty_plan(), CONTEXT))
    assert doc["exit_code"] == 0 and doc["destructive"] is False


def test_render_is_pure_of_network_cli_and_apply() -> None:
    code = ("import sys, metorial_apply.render; "
            "bad = [m for m in ('httpx', 'click', 'rich', 'metorial_apply.api.client', 'metorial_apply.api.live', "
            "'metorial_apply.apply.run', 'metorial_apply.cli') if m in sys.modules]; print(','.join(bad))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == ""


def test_machine_output_escapes_what_a_terminal_would_act_on() -> None:
    """A live description any key of the organization can write: C1 controls (U+009B is a one-byte
    CSI), U+0085, U+2028/U+2029 and bidi overrides reach `plan --json` and saved plans only as
    \\uXXXX escapes; the decoded value is unchanged and other UTF-8 stays readable."""
    from metorial_apply.core.model import Address
    from metorial_apply.planning.plan import Action, Change, FieldDiff, Plan
    from metorial_apply.planning.saved import plan_to_json

    hostile = "x\u009b2J\u0085y\u2028z\u2029\u202egnp.exe\x7f é"
    change = Change(action=Action.UPDATE, address=Address.parse("deployment.gh"), reason="description changed",
                    id="pde_1", fields=("description",), diffs=(FieldDiff(field="description", before=hostile,
                                                                          after="tools"),))
    plan = Plan(stack="prod", changes=(change,))
    for text in (render_json(plan, CONTEXT), plan_to_json(plan)):
        assert not any(c in text for c in "\u009b\u0085\u2028\u2029\u202e\x7f"), text
        assert "\\u009b" in text and "é" in text
        [diff] = json.loads(text)["changes"][0]["diffs"]
        assert diff["before"] == hostile
