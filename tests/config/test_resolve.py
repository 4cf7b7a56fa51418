"""resolve_names against a catalog, and `validate --online` against the embedded emulator."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from metorial_apply.config.load import load_config
from metorial_apply.config.resolve import resolve_names
from metorial_apply.core.errors import ConfigError
from metorial_apply.core.model import Address, Catalog, CatalogProvider

ROOT = Path(__file__).resolve().parents[2]

CATALOG = Catalog(
    providers=(
        CatalogProvider(
            id="pro_gh",
            slug="github",
            identifier="metorial-github",
            name="GitHub",
            versions={"1.0.0": "prv_gh1", "1.1.0": "prv_gh2"},
            auth_methods={"oauth": "pam_gh1", "token": "pam_gh2"},
            config_schema={
                "type": "object",
                "properties": {"base_url": {"type": "string"}},
                "additionalProperties": False,
            },
            auth_method_schemas={
                "token": {"type": "object", "required": ["token"], "properties": {"token": {"type": "string"}}}
            },
        ),
        CatalogProvider(
            id="pro_sl",
            slug="slack",
            identifier="metorial-slack",
            name="Slack",
            auth_methods={"bot_token": "pam_sl1"},
            config_schema={
                "type": "object",
                "required": ["workspace"],
                "properties": {"workspace": {"type": "string", "minLength": 1}},
            },
        ),
    )
)


def load(tmp_path: Path, text: str):  # type: ignore[no-untyped-def]
    (tmp_path / "stack.yaml").write_text("stack: s\n" + text, encoding="utf-8")
    return load_config(tmp_path, env={})


def messages(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as exc:
        resolve_names(load(tmp_path, text), CATALOG)
    return [f"{d.location()} {d.path}: {d.message} | {d.hint}" for d in exc.value.diagnostics]


def test_names_become_canonical(tmp_path: Path) -> None:
    state = resolve_names(load(tmp_path, """deployments:
  a: {provider: metorial-github, version: prv_gh1}
  b: {provider: pro_sl}
auth_configs:
  t: {deployment: a, method: pam_gh2, value: {token: x}}
configs:
  c: {deployment: b, provider: slack, value: {workspace: acme}}
"""), CATALOG)
    spec = {str(r.address): r.spec for r in state}
    assert spec["deployment.a"]["provider"] == "github" and spec["deployment.a"]["version"] == "1.0.0"
    assert spec["deployment.b"]["provider"] == "slack"
    assert spec["auth_config.t"]["provider"] == "github" and spec["auth_config.t"]["method"] == "token"
    assert state.get(Address(kind="config", name="c")).secret.reveal() == {"workspace": "acme"}  # type: ignore[union-attr]


def test_unknown_names_get_suggestions_and_positions(tmp_path: Path) -> None:
    found = messages(tmp_path, """deployments:
  a: {provider: githib}
  b: {provider: github, version: 9.9.9}
auth_configs:
  t: {deployment: b, method: oauht, value: {}}
""")
    assert found == [
        f'{tmp_path}/stack.yaml:3:17 deployments.a.provider: unknown provider "githib" | did you mean "github"?',
        f'{tmp_path}/stack.yaml:4:34 deployments.b.version: provider github has no version "9.9.9" | '
        "github versions: 1.0.0, 1.1.0",
        f'{tmp_path}/stack.yaml:6:30 auth_configs.t.method: provider github has no method "oauht" | '
        'did you mean "oauth"?',
    ]


def test_provider_mismatch_is_found_after_resolution(tmp_path: Path) -> None:
    found = messages(tmp_path, """deployments:
  a: {provider: pro_gh}
configs:
  c: {deployment: a, provider: metorial-slack, value: {workspace: acme}}
""")
    assert len(found) == 1 and 'uses provider "github", but this config has provider "slack"' in found[0]


def test_values_are_checked_against_the_catalog_schemas(tmp_path: Path) -> None:
    found = messages(tmp_path, """deployments:
  gh: {provider: github}
  sl: {provider: slack}
configs:
  g: {deployment: gh, value: {base_url: 1, nope: x}}
  s: {deployment: sl, value: {workspace: ""}}
  t: {deployment: sl, value: {}}
auth_configs:
  a: {deployment: gh, method: token, value: {}}
""")
    assert [f.split(" ", 1)[1] for f in found] == [
        'configs.g.value: unknown key "nope" | allowed keys: base_url',
        "configs.g.value.base_url: must be of type string | None",
        "configs.s.value.workspace: must be at least 1 characters long | None",
        'configs.t.value: missing required key "workspace" | None',
        'auth_configs.a.value: missing required key "token" | None',
    ]


def copy_example(tmp_path: Path, name: str) -> Path:
    target = tmp_path / name
    shutil.copytree(ROOT / "examples" / name, target, ignore=shutil.ignore_patterns(".metorial-apply"))
    return target


def test_validate_online_against_the_emulator(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("METORIAL_API_KEY", raising=False)
    quickstart = copy_example(tmp_path, "quickstart")
    result = run_cli("validate", str(quickstart), "--online", "--api-url", "local")
    assert result.code == 0, result.err
    assert result.out.startswith("Valid: 4 resources in stack quickstart") and "local emulator" in result.out
    multi = copy_example(tmp_path, "multi-env")
    for env in ("staging", "production"):
        result = run_cli("validate", str(multi / "base"), "--var-file", str(multi / "envs" / f"{env}.yaml"),
                         "--online", "--api-url", "local")
        assert result.code == 0, result.err


def test_validate_online_reports_catalog_problems(tmp_path: Path, run_cli, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("METORIAL_API_KEY", raising=False)
    (tmp_path / "stack.yaml").write_text("""stack: s
deployments:
  slack: {provider: slak}
  notion: {provider: notion}
configs:
  notion: {deployment: notion, value: {root_page_id: abc}}
auth_configs:
  notion-token: {deployment: notion, method: integration_token, value: {tokn: x}}
""", encoding="utf-8")
    result = run_cli("validate", str(tmp_path), "--online", "--api-url", "local")
    assert result.code == 1
    assert f'Error: {tmp_path}/stack.yaml:3:21: deployments.slack.provider: unknown provider "slak"' in result.err
    assert 'hint: did you mean "slack"?' in result.err
    assert 'configs.notion.value: missing required key "workspace_id"' in result.err
    assert 'auth_configs.notion-token.value: missing required key "token"' in result.err
    offline = run_cli("validate", str(tmp_path))
    assert offline.code == 0  # offline validation checks shape only


def test_an_identifier_and_its_slug_are_one_provider(tmp_path: Path) -> None:
    # Found by tests/plan/test_converge_property.py: offline, `provider: metorial-github` beside a
    # vault of provider github was refused as a mismatch although both name one provider.
    text = """deployments:
  a: {provider: github}
config_vaults:
  v: {provider: github, value: {}}
configs:
  c: {vault: v, provider: metorial-github}
  d: {deployment: a, provider: metorial-github, value: {}}
"""
    state = resolve_names(load(tmp_path, text), CATALOG)
    assert {r.spec["provider"] for r in state} == {"github"}
    with pytest.raises(ConfigError, match='uses provider "github", but this config has provider "metorial-slack"'):
        load(
            tmp_path,
            text.replace("c: {vault: v, provider: metorial-github}", "c: {vault: v, provider: metorial-slack}"),
        )
