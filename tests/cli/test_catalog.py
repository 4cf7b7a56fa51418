"""`metorial-apply catalog`: what it lists is what the emulator's catalog holds (read back
through the raw API, not through the code under test), a publishable key is enough, and every
string from the API prints inert."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest

from metorial_apply.core.provider import AuthMethod, Field, ProviderDetail, ProviderSummary, Tool
from metorial_apply.render.catalog import render_provider, render_providers
from tests.cli.runner import run
from tests.emulator_server import SECRET_KEY, EmulatorProcess

PUBLISHABLE = "metorial_pk_local_emulator_publishable_key"


def raw(server: EmulatorProcess, path: str, **params: Any) -> list[dict[str, Any]]:
    headers = {"Authorization": f"Bearer {SECRET_KEY}"}
    body = httpx.get(server.url + path, params={"limit": 100, **params}, headers=headers, timeout=10).json()
    return body["items"]


def test_the_list_is_the_catalog(emulator: EmulatorProcess, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "catalog", "--api-url", emulator.url, "--api-key", PUBLISHABLE)
    assert code == 0, err
    providers = raw(emulator, "/providers")
    rows = [line.split() for line in out.splitlines()[1:len(providers) + 1]]
    assert [r[0] for r in rows] == sorted(p["slug"] for p in providers)
    by_slug = {p["slug"]: p for p in providers}
    assert all(r[-2] == by_slug[r[0]]["current_version"]["version"] and r[-1] == by_slug[r[0]]["identifier"]
               for r in rows)
    assert out.rstrip().endswith(f"{len(providers)} providers. `metorial-apply catalog SLUG` shows one.")


def test_one_provider_shows_its_versions_methods_config_and_tools(emulator: EmulatorProcess,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(capsys, "catalog", "github", "--json", "--api-url", emulator.url, "--api-key", PUBLISHABLE)
    assert code == 0, err
    shown = json.loads(out)["provider"]
    github = next(p for p in raw(emulator, "/providers") if p["slug"] == "github")
    spec = raw(emulator, "/provider-specifications", provider_version_id=github["current_version"]["id"])[0]
    versions = raw(emulator, "/provider-versions", provider_id=github["id"])
    assert sorted(shown["versions"]) == sorted(v["version"] for v in versions)
    assert [t["key"] for t in shown["tools"]] == sorted(t["key"] for t in spec["tools"])
    methods = {m["key"]: m for m in spec["auth_methods"]}
    assert {m["key"]: m["type"] for m in shown["auth_methods"]} == {k: m["type"] for k, m in methods.items()}
    for method in shown["auth_methods"]:
        schema = methods[method["key"]]["input_schema"]["schema"]
        assert {f["name"] for f in method["fields"]} == set(schema["properties"])
        assert {f["name"] for f in method["fields"] if f["required"]} == set(schema.get("required", []))
    assert {f["name"] for f in shown["config_fields"]} == set(spec["config_schema"]["properties"])
    code, text, _ = run(capsys, "catalog", "github", "--api-url", emulator.url, "--api-key", PUBLISHABLE)
    assert code == 0
    assert "Versions (`version:` of deployments): " in text and " (current)" in text
    assert all(f"  {t['key']}" in text for t in spec["tools"])


def test_local_and_unknown_providers(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run(capsys, "catalog", "slack", "--api-url", "local")
    assert code == 0 and out.startswith("Slack (slack)")
    code, _, err = run(capsys, "catalog", "slak", "--api-url", "local")
    assert code == 1 and 'no provider "slak"; did you mean "slack"?' in err


HOSTILE = "x\x1b[2J\x07\n\u202e\x1b]8;;https://evil\x07y"


def test_strings_from_the_api_print_inert() -> None:
    summary = ProviderSummary(slug=HOSTILE, name=HOSTILE, identifier=HOSTILE, id=HOSTILE, current_version=HOSTILE)
    detail = ProviderDetail(summary=summary, description=HOSTILE, versions=(HOSTILE,),
                            auth_methods=(AuthMethod(key=HOSTILE, type=HOSTILE, name=HOSTILE,
                                                     fields=(Field(name=HOSTILE, type=HOSTILE),)),),
                            config_fields=(Field(name=HOSTILE, description=HOSTILE),), tools=(Tool(key=HOSTILE),))
    for text in (render_providers([summary]), render_provider(detail)):
        assert not any(c in text for c in "\x1b\x07\u202e")
        assert "\\x1b[2J" in text
    assert len(render_providers([summary]).splitlines()) == 4  # header, one row, blank, footer: no raw newline


def test_malformed_schemas_give_no_fields() -> None:
    from metorial_apply.api.provider_detail import schema_fields

    assert schema_fields(None) == () and schema_fields({"properties": [1]}) == ()
    assert schema_fields({"type": "json_schema", "schema": {"properties": {"a": 5}, "required": ["a", 3]}}) == (
        Field(name="a", required=True),)
