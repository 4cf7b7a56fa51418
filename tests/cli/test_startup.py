"""Start-up imports only what the command runs (issue 24): `--version`, `--help` and an offline
`validate` import no command module they do not run, no HTTP client, terminal UI, emulator,
JSON Schema validator or event loop. Each case runs in a fresh interpreter, as a user's does,
and reads `sys.modules` after `main` has returned."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from metorial_apply.cli import COMMAND_MODULES
from tests.apply.conftest import copy_example

ROOT = Path(__file__).resolve().parents[2]
# What no offline command needs: the client stack, rich, the emulator's server, jsonschema,
# asyncio, git; and of ours the client, the emulator, the planner and the renderers.
NEVER_OFFLINE = ("httpx", "rich", "starlette", "uvicorn", "jsonschema", "referencing", "asyncio", "anyio",
                 "subprocess", "metorial_apply.api.client", "metorial_apply.emulator", "metorial_apply.planning",
                 "metorial_apply.render", "metorial_apply.apply", "metorial_apply.config.resolve")
# --version and --help also read no YAML, build no model and load no command.
NOT_FOR_VERSION = (*NEVER_OFFLINE, "pydantic", "yaml", "metorial_apply.config", "metorial_apply.core.model",
                   *(f"metorial_apply.cli.{name}" for name in COMMAND_MODULES))

PROBE = """
import json, sys
from metorial_apply.cli import main
try:
    main(sys.argv[1:])
except SystemExit as exc:
    code = exc.code
print(json.dumps({"code": code, "modules": sorted(sys.modules)}), file=sys.stderr)
"""


def imported_by(args: list[str], cwd: Path) -> tuple[int, set[str], str]:
    """Run `main(args)` in a new interpreter: its exit code, every module it imported, its stdout."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("METORIAL_")}
    env |= {"PYTHONPATH": os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]), "NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-c", PROBE, *args], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=60, check=False)
    report = json.loads(done.stderr.strip().splitlines()[-1])
    return report["code"], set(report["modules"]), done.stdout


def loaded(modules: set[str], names: tuple[str, ...]) -> list[str]:
    """Which of `names` (a package counts with its submodules) are among `modules`."""
    return sorted(n for n in names if any(m == n or m.startswith(n + ".") for m in modules))


@pytest.mark.parametrize("args", [["--version"], ["--help"]])
def test_version_and_help_import_no_command(args: list[str], tmp_path: Path) -> None:
    code, modules, out = imported_by(args, tmp_path)
    assert code == 0 and ("version" in out or "Commands:" in out)
    assert loaded(modules, NOT_FOR_VERSION) == []


@pytest.mark.parametrize("extra", [[], ["--strict"]])
def test_offline_validate_imports_no_client_ui_emulator_or_schema_validator(extra: list[str], tmp_path: Path) -> None:
    stack = copy_example("quickstart", tmp_path)
    code, modules, out = imported_by(["validate", str(stack), *extra], tmp_path)
    assert code == 0 and "Valid: 4 resources" in out
    assert loaded(modules, NEVER_OFFLINE) == []
    others = tuple(f"metorial_apply.cli.{name}" for name in COMMAND_MODULES if name != "validate")
    assert loaded(modules, others) == []


def test_the_probe_sees_what_a_command_imports(tmp_path: Path) -> None:
    """The check can fail: `validate --online` does load the client stack (and fails to reach
    an API that is not there, which is beside the point)."""
    stack = copy_example("quickstart", tmp_path)
    _, modules, _ = imported_by(["validate", str(stack), "--online", "--api-url", "http://127.0.0.1:9",
                                 "--api-key", "metorial_sk_probe", "--timeout", "1", "--max-wait", "0"], tmp_path)
    assert {"httpx", "asyncio", "metorial_apply.api.client"} <= modules
