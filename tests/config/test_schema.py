"""The checked-in JSON Schema matches the models; a stale copy is detected; the schema accepts
the examples and rejects what validate rejects for shape."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import yaml

from metorial_apply.config.schema import SCHEMA_PATH, document_schema, render_schema, schema_is_current

ROOT = Path(__file__).resolve().parents[2]
CHECKED_IN = ROOT / SCHEMA_PATH


def test_checked_in_schema_is_current() -> None:
    assert schema_is_current(CHECKED_IN), "run: metorial-apply schema --write schemas/metorial-apply.schema.json"


def test_a_stale_schema_fails_the_check(tmp_path: Path) -> None:
    stale = tmp_path / "schema.json"
    schema = json.loads(CHECKED_IN.read_text(encoding="utf-8"))
    del schema["$defs"]["DeploymentSpec"]["properties"]["tools"]  # as if a field was added since
    stale.write_text(json.dumps(schema, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    assert not schema_is_current(stale)
    assert not schema_is_current(tmp_path / "missing.json")


def test_rendering_is_stable() -> None:
    assert render_schema() == render_schema()
    assert render_schema().endswith("}\n")


def test_schema_command_prints_writes_and_checks(tmp_path: Path, run_cli) -> None:  # type: ignore[no-untyped-def]
    printed = run_cli("schema")
    assert printed.code == 0 and printed.out == CHECKED_IN.read_text(encoding="utf-8")
    target = tmp_path / "out" / "schema.json"
    assert run_cli("schema", "--write", str(target)).code == 0
    assert run_cli("schema", "--check", str(target)).code == 0
    target.write_text("{}\n", encoding="utf-8")
    stale = run_cli("schema", "--check", str(target))
    assert stale.code == 1 and "out of date" in stale.err


def test_examples_validate_against_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(document_schema())
    files = sorted((ROOT / "examples").rglob("*.yaml"))
    # Var files and the workspace file (tests/workspace checks it against its own schema) are not configs.
    config_files = [f for f in files if "envs" not in f.parts and "shared" not in f.parts
                    and f.name != "metorial-apply.yaml"]
    assert len(config_files) >= 6
    for path in config_files:
        errors = list(validator.iter_errors(yaml.safe_load(path.read_text(encoding="utf-8"))))
        assert not errors, f"{path}: {[e.message for e in errors]}"


def test_schema_rejects_unknown_fields_and_bad_names() -> None:
    validator = jsonschema.Draft202012Validator(document_schema())
    assert not validator.is_valid({"deployments": {"github": {"provider": "github", "valu": 1}}})
    assert not validator.is_valid({"deployments": {"git hub": {"provider": "github"}}})
    assert not validator.is_valid({"deploymnets": {}})
    assert validator.is_valid({"stack": "support-${var.env}", "variables": {"env": "dev"}})
