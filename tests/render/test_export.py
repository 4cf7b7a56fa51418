"""render/export.py: live objects → YAML in our language. Each exported file is loaded back with
the real config loader and its canonical specs compared with the live objects' (the same
`from_api` the plan uses), so a field the export writes wrongly shows up as a difference."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from metorial_apply.config.load import load_config
from metorial_apply.config.resolve import resolve_names
from metorial_apply.core.kinds import KINDS, METORIAL_KINDS
from metorial_apply.core.model import NAME, Catalog, CatalogProvider, Stamp
from metorial_apply.render.export import CONFIG_FILE, ENV_FILE, Export, ExportRequest, export
from metorial_apply.render.exportnames import EnvNames, base_name, unique_names

TOKEN = {"type": "object", "properties": {"token": {"type": "string"}}, "required": ["token"]}
OAUTH = {"type": "object", "properties": {"client_id": {"type": "string"}, "client_secret": {"type": "string"}}}
CATALOG = Catalog(providers=(CatalogProvider(
    id="pro_gh", slug="github", identifier="metorial-github", name="GitHub", current_version_id="pv_2",
    versions={"1.0.0": "pv_1", "1.1.0": "pv_2"}, auth_methods={"oauth": "pam_o", "token": "pam_t"},
    config_schema={"type": "object", "properties": {"base_url": {"type": "string"}, "org": {"type": "string"}}},
    auth_method_schemas={"oauth": OAUTH, "token": TOKEN},
),))
ALL = re.compile(r".*")


def obj(ident: str, name: str, created: str = "2026-01-01T00:00:00.000Z", **fields: Any) -> dict[str, Any]:
    return {"id": ident, "status": "active", "name": name, "description": None, "metadata": {},
            "created_at": created, "provider_id": "pro_gh", "is_default": False, **fields}


def rules(*filters: dict[str, Any]) -> dict[str, Any]:
    return {"type": "filter", "filters": list(filters)}


def organization() -> dict[str, list[dict[str, Any]]]:
    """One unmanaged object of every kind (plus defaults and a lock record) as the API lists them."""
    return {
        "deployment": [
            obj("pde_1", "GitHub (Prod) #1", description="the ${env:HOME} bot", metadata={"team": "support"},
                tool_filter=rules({"type": "tool_keys", "keys": ["list_issues", "create_issue"]},
                                  {"type": "tool_regex", "pattern": "^get_"}),
                locked_version={"version": "1.0.0"}),
            obj("pde_def", "Default Deployment for GitHub", is_default=True, description="Auto-created by Metorial"),
            obj("pde_2", "GitHub (Prod) #1", created="2026-02-01T00:00:00.000Z"),
        ],
        "config_vault": [obj("pcv_1", "shared", deployment=None)],
        "config": [
            obj("pcf_1", "prod", deployment={"id": "pde_1"}, from_vault=None),
            obj("pcf_2", "from vault", deployment=None, from_vault={"id": "pcv_1"}),
            obj("pcf_def", "Default Config for x", is_default=True, deployment={"id": "pde_1"}, from_vault=None),
            obj("pcf_3", "on default", deployment={"id": "pde_def2"}, from_vault=None),
        ],
        "auth_config": [obj("pac_1", "token", deployment={"id": "pde_1"}, auth_method={"key": "token"},
                            tool_filter=rules({"type": "prompt_keys", "keys": ["p"]}))],
        "auth_credentials": [obj("pac_c", "app", scopes=[{"scope": "repo"}, "read:org"]),
                             obj("pac_m", "Metorial's app", is_managed=True, scopes=[])],
        "session_template": [
            obj("set_1", "support bot", providers=[
                {"deployment": {"id": "pde_1"}, "config": {"id": "pcf_def", "is_default": True},
                 "auth_config": {"id": "pac_1"}, "tool_filter": rules({"type": "tool_keys", "keys": ["a"]})},
                {"deployment": {"id": "pde_def"}},
            ]),
            obj("set_lock", "lock", metadata={"metorial-apply/lock": "prod"}),
        ],
    }


def written(result: Export, tmp_path: Path) -> Path:
    for name, text in result.files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    return tmp_path


def env_of(result: Export) -> dict[str, str]:
    return {p.env: f"secret-{p.env}" for p in result.placeholders}


def loaded(result: Export, tmp_path: Path, env: dict[str, str]) -> dict[str, dict[str, Any]]:
    """Load the export with the real loader (imports: dropped: not this branch's syntax) → specs."""
    text = result.files[CONFIG_FILE].split("imports:\n")[0]
    (tmp_path / CONFIG_FILE).write_text(text, encoding="utf-8")
    state = resolve_names(load_config(tmp_path, env=env), CATALOG, predict=False)
    return {str(r.address): r.spec for r in state}


def test_every_kind_round_trips_through_the_loader(tmp_path: Path) -> None:
    result = export(organization(), CATALOG, ExportRequest())
    doc = yaml.safe_load(result.files[CONFIG_FILE])
    assert doc["stack"] == "default"
    specs = loaded(result, tmp_path, env_of(result))
    ids = {i["to"]: i["id"] for i in doc["imports"]}
    live = {o["id"]: (k, o) for k, objs in organization().items() for o in objs}
    names = {(live[i][0], i): a.split(".", 1)[1] for a, i in ids.items()}

    class Names:
        def name_of(self, kind: str, id: str) -> str:
            return names[(kind, id)]

        def provider_slug(self, provider_id: str) -> str:
            return "github"

    assert set(specs) == set(ids)
    for address, ident in ids.items():
        kind, raw = live[ident]
        assert specs[address] == KINDS[kind].from_api(raw, Names()), address
    assert {a.split(".")[0] for a in ids} == set(METORIAL_KINDS)


def test_names_are_derived_unique_and_the_real_name_is_kept() -> None:
    doc = yaml.safe_load(export(organization(), CATALOG, ExportRequest()).files[CONFIG_FILE])
    deployments = doc["deployments"]
    # Two objects share a name: the older keeps the derived name, the younger gets "-2".
    assert deployments["github-prod-1"]["name"] == "GitHub (Prod) #1"
    assert deployments["github-prod-1-2"]["name"] == "GitHub (Prod) #1"
    assert {i["to"]: i["id"] for i in doc["imports"]}["deployment.github-prod-1"] == "pde_1"
    assert "name" not in doc["configs"]["prod"]  # the key is the name already
    assert base_name("  ", "config") == "config" and base_name("-.Ünïcode ✓", "x") == "n-code"
    assert base_name("a" * 300, "x") == "a" * 90 and NAME.fullmatch(base_name("!!x!!", "y"))
    assert unique_names([("1", "a"), ("2", "a"), ("3", "a-2")]) == {"1": "a", "2": "a-2", "3": "a-2-2"}


def test_defaults_are_left_out_unless_asked_for_or_referred_to() -> None:
    doc = yaml.safe_load(export(organization(), CATALOG, ExportRequest()).files[CONFIG_FILE])
    imported = {i["id"] for i in doc["imports"]}
    # The default config is nobody's; the default deployment is pulled in by the template.
    assert "pcf_def" not in imported and "pde_def" in imported and "pac_m" not in imported
    template = doc["session_templates"]["support-bot"]["providers"]
    assert {"deployment": "github-prod-1", "auth_config": "token", "tools": ["a"]} in template
    full = yaml.safe_load(export(organization(), CATALOG, ExportRequest(include_defaults=True)).files[CONFIG_FILE])
    assert "pcf_def" in {i["id"] for i in full["imports"]}
    no_refs = {k: [o for o in v if o["id"] != "set_1"] for k, v in organization().items()}
    alone = yaml.safe_load(export(no_refs, CATALOG, ExportRequest()).files[CONFIG_FILE])
    assert "pde_def" not in {i["id"] for i in alone["imports"]}


def test_lock_and_index_records_and_dangling_references_are_left_out() -> None:
    from metorial_apply.core.index import Index
    from tests.index_records import index_records

    listed = organization()
    listed["session_template"] = listed["session_template"] + index_records(Index(stack="prod", generation=1))
    result = export(listed, CATALOG, ExportRequest())
    assert "set_lock" not in result.files[CONFIG_FILE] and "set_head" not in result.files[CONFIG_FILE]
    assert "pcf_3" not in result.files[CONFIG_FILE]  # its deployment is not in the listing
    assert any("config.on-default refers to deployment pde_def2" in n for n in result.notes)


def test_write_only_values_become_placeholders_listed_in_env_example() -> None:
    result = export(organization(), CATALOG, ExportRequest())
    doc = yaml.safe_load(result.files[CONFIG_FILE])
    assert doc["configs"]["prod"]["value"] == {"base_url": "${env:METORIAL_CONFIG_PROD_VALUE_BASE_URL}",
                                               "org": "${env:METORIAL_CONFIG_PROD_VALUE_ORG}"}
    assert "value" not in doc["configs"]["from-vault"] and doc["configs"]["from-vault"]["vault"] == "shared"
    assert doc["auth_configs"]["token"]["value"] == {"token": "${env:METORIAL_AUTH_CONFIG_TOKEN_VALUE_TOKEN}"}
    assert doc["auth_credentials"]["app"]["client_secret"] == "${env:METORIAL_AUTH_CREDENTIALS_APP_CLIENT_SECRET}"
    used = set(re.findall(r"(?<!\$)\$\{env:([A-Z0-9_]+)\}", result.files[CONFIG_FILE]))
    lines = result.files[ENV_FILE].splitlines()
    listed = [line.removesuffix("=") for line in lines if not line.startswith("#")]
    assert used == set(listed) and len(listed) == len(set(listed)) == len(result.placeholders)
    assert all(re.fullmatch(r"[A-Z_][A-Z0-9_]*", n) for n in listed)
    assert all(lines[lines.index(f"{n}=") - 1].startswith("# ") for n in listed)  # says what it feeds


def test_placeholder_names_stay_unique_when_names_fold_together() -> None:
    env = EnvNames()
    assert [env.new("config", n, "value") for n in ("a-b", "a_b", "a.b")] == [
        "METORIAL_CONFIG_A_B_VALUE", "METORIAL_CONFIG_A_B_VALUE_2", "METORIAL_CONFIG_A_B_VALUE_3"]


def test_api_strings_are_inert_and_the_yaml_is_plain(tmp_path: Path) -> None:
    nasty = {"deployment": [obj("pde_x", "x\x1b[31m\u202e\nname", description="${env:HOME} $${x} !!python/object",
                                metadata={"k": "${file:/etc/passwd}", "${env:X}": 1})]}
    result = export(nasty, CATALOG, ExportRequest())
    text = result.files[CONFIG_FILE]
    assert "\x1b" not in text and "\u202e" not in text and "!!" not in text.replace("!!python", "")
    assert yaml.safe_load(text)["deployments"]["x-31m-name"]["name"] == "x\x1b[31m\u202e\nname"
    spec = loaded(result, tmp_path, {})["deployment.x-31m-name"]
    assert spec["description"] == "${env:HOME} $${x} !!python/object"  # read back literally, not interpolated
    assert spec["metadata"] == {"k": "${file:/etc/passwd}", "${env:X}": 1}


def managed(stack: str, address: str, **stamp: Any) -> dict[str, str]:
    return Stamp(stack=stack, address=address, spec_hash="sha256:0", **stamp).to_metadata()


def test_a_stack_export_takes_its_stamped_names_and_hides_what_was_secret(tmp_path: Path) -> None:
    keys = 'hmac-sha256:0123abcd:{"base_url":"00"}'
    listed = {
        "deployment": [
            obj("pde_1", "Whatever", description="from env", metadata=managed(
                "prod", "deployment.github", protect=True, sensitive=("description",)) | {"team": "a"}),
            obj("pde_2", "other", metadata=managed("staging", "deployment.github")),
            obj("pde_3", "dupe", created="2027-01-01", metadata=managed("prod", "deployment.github")),
            obj("pde_4", "plain"),
        ],
        "config": [obj("pcf_1", "c", deployment={"id": "pde_1"}, from_vault=None,
                       metadata=managed("prod", "config.c", secret_keys=keys))],
    }
    result = export(listed, CATALOG, ExportRequest(stack="prod"))
    doc = yaml.safe_load(result.files[CONFIG_FILE])
    assert "imports" not in doc and doc["stack"] == "prod"
    assert doc["deployments"] == {"github": {
        "name": "Whatever", "description": "${env:METORIAL_DEPLOYMENT_GITHUB_DESCRIPTION}", "provider": "github",
        "metadata": {"team": "a"}, "protect": True}}
    # A keyed stamp names the value's keys exactly: no placeholder for the schema's unset `org`.
    assert doc["configs"]["c"]["value"] == {"base_url": "${env:METORIAL_CONFIG_C_VALUE_BASE_URL}"}
    assert any("pde_3 duplicates deployment.github" in n for n in result.notes)
    assert "from env" not in result.files[CONFIG_FILE]


@pytest.mark.parametrize("kinds", [frozenset({"config"}), frozenset({"deployment", "session_template"})])
def test_kind_filter_writes_only_those_kinds_with_the_same_names(kinds: frozenset[str]) -> None:
    everything = yaml.safe_load(export(organization(), CATALOG, ExportRequest()).files[CONFIG_FILE])
    some = yaml.safe_load(export(organization(), CATALOG, ExportRequest(kinds=kinds)).files[CONFIG_FILE])
    sections = {KINDS[k].section for k in kinds}
    assert set(some) - {"stack", "imports"} == sections
    assert all(some[s] == everything[s] for s in sections)
    assert all(i["to"].split(".")[0] in kinds for i in some["imports"])


def test_output_is_deterministic() -> None:
    shuffled = {k: list(reversed(v)) for k, v in reversed(list(organization().items()))}
    assert export(organization(), CATALOG, ExportRequest()) == export(shuffled, CATALOG, ExportRequest())


def test_a_blank_live_name_is_noted_not_written(tmp_path: Path) -> None:
    result = export({"deployment": [obj("pde_b", "  ")]}, CATALOG, ExportRequest())
    assert yaml.safe_load(result.files[CONFIG_FILE])["deployments"] == {"deployment": {"provider": "github"}}
    assert any("deployment.deployment has no name in Metorial" in n for n in result.notes)
