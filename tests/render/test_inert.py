"""Output is inert: strings from the API or a stamp (addresses, names, descriptions, ids, error
codes and messages) never reach a terminal, a CI log or a PR comment with a control, escape or
bidi character raw, stay on one line, and in Markdown form no @mention or #123 link. A stamp
whose address is not `kind.name` of its kind with a valid name is foreign: never adopted or
deleted, reported once."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from metorial_apply.api.live import live_state
from metorial_apply.apply.report import ChangeResult
from metorial_apply.apply.run import ChangeFinished
from metorial_apply.apply.schedule import Outcome
from metorial_apply.cli.output import report_error
from metorial_apply.cli.progress import PlainProgress, change_line
from metorial_apply.config.sections import NAME as CONFIG_NAME
from metorial_apply.core.errors import ApiCall, BadRequestError
from metorial_apply.core.inert import inert, md_inert
from metorial_apply.core.model import NAME as LIVE_NAME
from metorial_apply.core.model import Address, Catalog, Resource, Stamp
from metorial_apply.emulator import EmulatorSettings
from metorial_apply.planning.plan import Action, Change, FieldDiff, Plan
from metorial_apply.render import render_markdown, render_text
from tests.apply.conftest import run_cli
from tests.emulator_server import SECRET_KEY, EmulatorProcess, EmulatorThread
from tests.render.golden_files import check_golden
from tests.render.plans import CONTEXT

ESC, BEL = "\x1b", "\x07"
OSC8 = "\x1b]8;;https://evil.example/\x1b\\click\x1b]8;;\x1b\\"
RLO = "\u202e"
HOSTILE = f"x{ESC}[2J{BEL}\nPlan: 0 to create, 0 to update, 0 to replace, 0 to delete.{OSC8}{RLO}gnp.exe"
# Every byte that must never appear raw: C0 (but the renderers' own newlines), DEL, C1, bidi.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\u2028\u2029]")


def assert_inert(text: str) -> None:
    """No raw control byte anywhere, and no hostile line: each printed line is ours."""
    assert not RAW.search(text), repr(RAW.search(text))
    for line in text.splitlines():
        assert not line.startswith("Plan: 0 to create, 0 to update, 0 to replace, 0 to delete.")


# -- the escaping function -------------------------------------------------------------------

@pytest.mark.parametrize(("raw", "shown"), [
    ("a\x1b[2Jb", "a\\x1b[2Jb"), ("bell\x07", "bell\\x07"), ("two\nlines\r\n", "two\\nlines\\r\\n"),
    ("tab\there", "tab\\there"), ("del\x7f", "del\\x7f"), ("c1\x9b31m", "c1\\x9b31m"), ("nul\x00", "nul\\x00"),
    ("\u202egnp.exe", "\\u202egnp.exe"), ("\u2066iso\u2069", "\\u2066iso\\u2069"),
    ("\u200e\u200f\u061c", "\\u200e\\u200f\\u061c"),
    ("line\u2028sep", "line\\u2028sep"), ("para\u2029sep", "para\\u2029sep"),
    ("plain · ünïcode → ok", "plain · ünïcode → ok"),
])
def test_inert_escapes_every_control_and_bidi_character_visibly(raw: str, shown: str) -> None:
    assert inert(raw) == shown
    assert inert(shown) == shown  # idempotent: escaping twice changes nothing


def test_md_inert_breaks_mentions_and_issue_references_invisibly() -> None:
    text = md_inert("ping @someone and @org/team about #123, mail a@b.c; keep # 4 and @ alone")
    assert "@someone" not in text and "@org/team" not in text and "#123" not in text
    assert text.replace("\u2060", "") == "ping @someone and @org/team about #123, mail a@b.c; keep # 4 and @ alone"
    assert md_inert(text) == text


# -- renderers -------------------------------------------------------------------------------

def hostile_plan() -> Plan:
    name = "gh" + HOSTILE
    live = Resource(address=Address(kind="deployment", name="old"), spec={"description": HOSTILE}, id="pde_1")
    return Plan(stack="prod", changes=(
        Change(action=Action.UPDATE, address=Address(kind="deployment", name=name), id="pde_" + HOSTILE,
               reason="description changed" + HOSTILE, drift=True, fields=("description",),
               diffs=(FieldDiff(field="description", before=f"cc @someone #123 <b>|{HOSTILE}",
                                after="Tools for @support-team, see #42 | <img src=x>"),
                      FieldDiff(field=f"providers[{HOSTILE}]", before=None, after={"deployment": HOSTILE}))),
        Change(action=Action.DELETE, address=Address(kind="deployment", name="old"), id="pde_1",
               reason=f"duplicate of deployment.{HOSTILE}", before={"description": HOSTILE}, live=live),
    ))


def test_text_and_markdown_show_hostile_strings_inert() -> None:
    text = render_text(hostile_plan(), CONTEXT)
    markdown = render_markdown(hostile_plan(), CONTEXT)
    assert_inert(text)
    assert_inert(markdown)
    assert "\\x1b[2J\\x07\\nPlan: 0 to create" in text  # shown, escaped, on the row's own line
    assert "\\u202egnp.exe" in text
    check_golden("hostile.txt", text)
    check_golden("hostile.md", markdown)


def test_markdown_forms_no_mention_issue_link_html_or_extra_table_cell() -> None:
    markdown = render_markdown(hostile_plan(), CONTEXT)
    assert not re.search(r"@[\w-]", markdown) and not re.search(r"#\d", markdown)
    assert "<b>" not in markdown and "<img" not in markdown and "&lt;img src=x&gt;" in markdown
    row = next(line for line in markdown.splitlines() if line.startswith("| description |"))
    assert len(re.findall(r"(?<!\\)\|", row)) == 4  # three cells: the `|` inside values are escaped


def test_ci_progress_lines_and_errors_are_inert(capsys: pytest.CaptureFixture[str]) -> None:
    failed = ChangeResult(address=Address(kind="deployment", name="gh" + HOSTILE), action="update",
                          outcome=Outcome.FAILED, error=f"400 invalid_data{HOSTILE}: {HOSTILE}")
    done = ChangeResult(address=Address(kind="deployment", name="gh"), action="create", outcome=Outcome.DONE,
                        id="pde_" + HOSTILE)
    stream = io.StringIO()
    progress = PlainProgress(stream=stream)
    progress(ChangeFinished(failed, 1, 2))
    progress(ChangeFinished(done, 2, 2))
    progress.note("SIGTERM" + HOSTILE)
    assert_inert(stream.getvalue())
    assert len(stream.getvalue().splitlines()) == 3
    assert "\\x1b" in change_line(failed, 1, 2, 20)
    call = ApiCall(method="PATCH", path="/provider-deployments/pde_1", request_id="req" + HOSTILE)
    report_error(BadRequestError(call, 400, "invalid" + HOSTILE, "bad" + HOSTILE, hint="hint" + HOSTILE))
    err = capsys.readouterr().err
    assert_inert(err)
    assert len(err.splitlines()) == 2 and err.startswith("Error: 400 invalid")


# -- foreign stamps --------------------------------------------------------------------------

def stamped(address: str, id: str, stack: str = "prod") -> dict[str, object]:
    stamp = Stamp(stack=stack, address=address, spec_hash="sha256:0")
    return {"id": id, "provider_id": "pro_1", "name": "n", "metadata": stamp.to_metadata(), "created_at": "t"}


@pytest.mark.parametrize("address", [
    "deployment." + HOSTILE, "deployment.a b", "deployment.-x", "deployment." + "n" * 101, "config.ok",
    "deployment", "nokind.x", "deployment.ok\x1b",
])
def test_a_stamp_whose_address_is_not_a_valid_name_of_its_kind_is_foreign(address: str) -> None:
    read = live_state("prod", Catalog(), {"deployment": [stamped(address, "pde_9"), stamped(address, "pde_8")]})
    assert len(read.state) == 0  # never adopted, so never updated or deleted
    assert len(read.ignored) == 2 and all("left alone" in note for note in read.ignored)
    assert all(not RAW.search(inert(note)) for note in read.ignored)


def test_a_valid_stamp_is_adopted_and_the_name_rule_is_the_configs() -> None:
    read = live_state("prod", Catalog(), {"deployment": [stamped("deployment.gh-1.x_y", "pde_1")]})
    assert [str(r.address) for r in read.state] == ["deployment.gh-1.x_y"] and read.ignored == ()
    assert LIVE_NAME.pattern == CONFIG_NAME.pattern


# -- through the CLI, against a real-HTTP emulator -------------------------------------------

STACK = """\
stack: inert
deployments:
  gh: {provider: github, description: mine}
"""


def test_a_hostile_stamp_and_description_print_inert_through_plan_apply_and_markdown(
    emulator: EmulatorProcess, tmp_path: Path
) -> None:
    env = {"METORIAL_API_URL": emulator.url, "METORIAL_API_KEY": SECRET_KEY}
    (tmp_path / "stack.yaml").write_text(STACK)
    assert run_cli(["apply", str(tmp_path), "--auto-approve"], env=env).code == 0
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    ours = next(o for o in emulator.objects("inert") if o["kind"] == "deployment")
    provider = ours["provider_id"]
    # someone else's key: a forged stamp for our stack, and our description edited by hand
    forged = Stamp(stack="inert", address="deployment." + HOSTILE, spec_hash="sha256:0").to_metadata()
    httpx.post(f"{emulator.url}/provider-deployments", headers=headers, json={
        "provider_id": provider, "name": HOSTILE, "description": "@someone " + HOSTILE, "metadata": forged,
    }).raise_for_status()
    httpx.patch(f"{emulator.url}/provider-deployments/{ours['id']}", headers=headers,
                json={"description": "cc @someone #123 " + HOSTILE}).raise_for_status()
    md = tmp_path / "plan.md"
    plan = run_cli(["plan", str(tmp_path), "--markdown", str(md)], env=env)
    assert plan.code == 0, plan.err
    # a quoted value is shown as JSON would escape it; either way visible, never raw
    assert "Changed outside metorial-apply" in plan.out and "x\\u001b[2J\\u0007\\nPlan: 0" in plan.out
    assert plan.err.count("left alone") == 1
    markdown = md.read_text()
    assert not re.search(r"@[\w-]", markdown) and not re.search(r"#\d", markdown)
    applied = run_cli(["apply", str(tmp_path), "--auto-approve", "--allow-delete"], env=env)
    assert applied.code == 0, applied.err
    assert "1 done, 0 failed" in applied.out and applied.err.count("left alone") == 1
    for text in (plan.out, plan.err, markdown, applied.out, applied.err):
        assert_inert(text)
    foreign = [o for o in emulator.objects("inert") if o["name"] == HOSTILE]
    assert len(foreign) == 1 and foreign[0]["status"] != "archived"  # never deleted


def hostile_errors(app: Any) -> Any:
    """ASGI wrapper: the API's error body with a hostile code, message and request id, for every
    create of a deployment (a 400) and every list of auth configs when `?fail` is asked (a 403)."""
    async def wrapped(scope: dict[str, Any], receive: Any, send: Any) -> None:
        create = scope["type"] == "http" and scope["method"] == "POST" and scope["path"] == "/provider-deployments"
        listing = scope["type"] == "http" and scope["method"] == "GET" and scope["path"] == "/provider-auth-configs"
        if not create and not (listing and FAIL_LISTS):
            return await app(scope, receive, send)
        status = 400 if create else 403
        body = {"object": "error", "ok": False, "status": status, "code": "invalid" + HOSTILE, "message": HOSTILE}
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json"), (b"metorial-req-id", b"req_\x1b[2J")]})
        return await send({"type": "http.response.body", "body": json.dumps(body).encode()})

    return wrapped


FAIL_LISTS: list[bool] = []


def test_api_error_codes_and_messages_print_inert_in_ci_lines_and_errors(tmp_path: Path) -> None:
    settings = EmulatorSettings(db_path=str(tmp_path / "db.sqlite3"))
    (tmp_path / "stack.yaml").write_text(STACK)
    with EmulatorThread(settings, wrap=hostile_errors) as server:
        env = {"METORIAL_API_URL": server.url, "METORIAL_API_KEY": SECRET_KEY}
        applied = run_cli(["apply", str(tmp_path), "--auto-approve"], env=env)
        FAIL_LISTS.append(True)
        try:
            planned = run_cli(["plan", str(tmp_path)], env=env)
        finally:
            FAIL_LISTS.clear()
    assert applied.code == 1 and "FAILED 400 invalid" in applied.out and "0 done, 1 failed" in applied.out
    assert planned.code == 1 and planned.err.startswith("Error: ") and "403" in planned.err
    for text in (applied.out, applied.err, planned.out, planned.err):
        assert_inert(text)
    assert len(planned.err.splitlines()) <= 2  # the error (and its hint): no line of the server's making


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_config_diagnostics_print_inert(tmp_path: Path, command: str) -> None:
    """A YAML key is the config author's, and diagnostics quote it: a newline or ESC in it must not
    forge a "Plan: 0 to create" line or clear the terminal (issue 21 item 13)."""
    forged = "a\\nPlan: 0 to create, 0 to update, 0 to replace, 0 to delete.\\u001b[2J\\u2029"
    (tmp_path / "stack.yaml").write_text(f'stack: s\ndeployments:\n  "{forged}": {{provider: github}}\n')
    result = run_cli([command, str(tmp_path), "--api-url", "local"][: 2 if command == "validate" else 4])
    assert result.code == 1 and "not a valid deployment name" in result.err, result.err
    assert_inert(result.out + result.err)
