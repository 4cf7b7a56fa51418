"""Progress output: plain CI lines in the OUTPUT.md shape, quiet mode, the rich bar, summaries."""

from __future__ import annotations

import io

from metorial_apply.apply.report import ApplyReport, ChangeResult
from metorial_apply.apply.run import ChangeFinished, ChangeStarted
from metorial_apply.apply.schedule import Outcome
from metorial_apply.cli.progress import PlainProgress, RichProgress, change_line, summary_lines
from metorial_apply.core.model import Address

GH = Address(kind="deployment", name="github")
CFG = Address(kind="config", name="github-prod")
BOT = Address(kind="session_template", name="support")
ERROR = "400 invalid_data: Invalid data — value.token: is required (POST /provider-configs, request req_8hJk)"

RESULTS = [
    ChangeResult(GH, "create", Outcome.DONE, id="pde_1aBcDe", duration_s=0.213),
    ChangeResult(CFG, "replace", Outcome.FAILED, error=ERROR),
    ChangeResult(BOT, "update", Outcome.SKIPPED, cause=CFG),
]


def test_plain_lines_look_like_output_md() -> None:
    lines = [change_line(r, i, 12, 26) for i, r in enumerate(RESULTS, 1)]
    assert lines[0] == "[ 1/12] +   deployment.github           created pde_1aBcDe   0.21 s"
    assert lines[1] == f"[ 2/12] -/+ config.github-prod          FAILED {ERROR}"
    assert lines[2] == "[ 3/12] ~   session_template.support    skipped: depends on config.github-prod"


def test_plain_progress_prints_finished_changes_and_quiet_keeps_only_failures() -> None:
    for quiet, expected in ((False, 3), (True, 1)):
        stream = io.StringIO()
        progress = PlainProgress(width=26, quiet=quiet, stream=stream)
        progress(ChangeStarted(GH, "create", 3))
        for i, r in enumerate(RESULTS, 1):
            progress(ChangeFinished(r, i, 3))
        lines = stream.getvalue().splitlines()
        assert len(lines) == expected
        assert "\x1b[" not in stream.getvalue()
        assert any("FAILED 400" in line for line in lines)


def test_rich_progress_scrolls_finished_lines_above_the_bar() -> None:
    progress = RichProgress(3, width=26, color=False)
    progress.console.file = io.StringIO()
    with progress:
        progress(ChangeStarted(GH, "create", 3))
        assert progress.running == {"deployment.github": "create"}
        for i, r in enumerate(RESULTS, 1):
            progress(ChangeFinished(r, i, 3))
    text = progress.console.file.getvalue()
    assert "created pde_1aBcDe" in text and "skipped: depends on config.github-prod" in text
    assert progress.running == {}


def test_summary_and_residual_plan() -> None:
    report = ApplyReport(stack="prod", results=tuple(RESULTS), elapsed_s=4.21,
                         stats={"calls": 38, "retries": 0, "rate_limited": 0})
    first, second = summary_lines(report)
    assert first == "Apply finished in 4.2 s: 1 done, 1 failed, 1 skipped. 38 API calls, 0 retries, 0 × 429."
    assert second == "Left to do (run plan again after fixing): -/+ config.github-prod, ~ session_template.support"
    assert not report.ok
    assert summary_lines(ApplyReport(stack="prod", results=(RESULTS[0],)))[0].startswith("Apply finished")
