"""`key_backends:`, `api_keys:` and `${key.NAME.PART}`: what they become, and every mistake at its line."""

from __future__ import annotations

from pathlib import Path

import pytest
import respx

from metorial_apply.config.load import load_config
from metorial_apply.core.errors import ConfigError, Diagnostic
from metorial_apply.core.keys import consumed, slot
from metorial_apply.core.kinds import refs_of
from metorial_apply.core.model import Address
from metorial_apply.core.scrub import SECRETS

ENV = {"METLO_URL": "https://metlo.internal", "METLO_ADMIN_KEY": "metlo_canary_admin_0123456789",
       "METAL_URL": "https://metal.internal", "METAL_CLIENT_ID": "ci_canary_client",
       "METAL_API_KEY": "pk_canary_admin_0123456789", "METORIAL_APPLY_KEY_URL_VARS": "METLO_URL, METAL_URL"}
BACKENDS = """\
stack: prod
key_backends:
  metlo: {type: metlo, url: "${env:METLO_URL}", api_key: "${env:METLO_ADMIN_KEY}"}
  metal: {type: metal, url: "${env:METAL_URL}", client_id: "${env:METAL_CLIENT_ID}", api_key: "${env:METAL_API_KEY}"}
"""
ISSUE_EXAMPLE = BACKENDS + """\
api_keys:
  metlo-ingest: {backend: metlo, key_for: GENERIC, rotate_after: 90d}
  metal-sync: {backend: metal}
config_vaults:
  metal-sync-credentials:
    provider: metal
    value: {client_id: "${key.metal-sync.client_id}", api_key: "${key.metal-sync.secret}"}
  metlo-credentials:
    provider: metlo
    value: {api_key: "${key.metlo-ingest.secret}", url: "https://metlo.internal"}
"""


def write(tmp: Path, text: str) -> Path:
    path = tmp / "stack.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp: Path, text: str, env: dict[str, str] | None = None, **kw: object) -> list[Diagnostic]:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp, text), env=ENV if env is None else env, **kw)  # type: ignore[arg-type]
    for secret in ENV.values():
        assert secret not in str(caught.value.diagnostics)
    return list(caught.value.diagnostics)


def only(tmp: Path, text: str, env: dict[str, str] | None = None) -> Diagnostic:
    found = problems(tmp, text, env)
    assert len(found) == 1, found
    return found[0]


def test_the_issue_example_becomes_keys_backends_and_slotted_consumers(tmp_path: Path) -> None:
    state = load_config(write(tmp_path, ISSUE_EXAMPLE), env=ENV)
    assert [b.name for b in state.key_backends] == ["metal", "metlo"]
    by_name = {b.name: b for b in state.key_backends}
    assert by_name["metal"].client_id is not None and by_name["metal"].client_id.reveal() == "ci_canary_client"
    assert by_name["metlo"].api_key is not None and by_name["metlo"].url_from == "env:METLO_URL"
    keys = {k.name: k for k in state.api_keys}
    assert (keys["metlo-ingest"].key_for, keys["metlo-ingest"].rotate_after_s) == ("GENERIC", 90 * 86400)
    assert refs_of(state.get(Address(kind="config_vault", name="metal-sync-credentials"))) == {  # type: ignore[arg-type]
        Address(kind="api_key", name="metal-sync")}  # the consumer waits for its key in the graph
    vault = state.get(Address(kind="config_vault", name="metal-sync-credentials"))
    assert vault is not None and vault.secret is not None
    assert vault.secret.reveal() == {"client_id": slot("metal-sync", "client_id"),
                                     "api_key": slot("metal-sync", "secret")}
    for secret in ENV.values():
        assert secret not in repr(state)


@pytest.mark.parametrize("field", ["description: \"${key.metal-sync.secret}\"",
                                   "metadata: {k: \"${key.metal-sync.secret}\"}"])
def test_a_key_outside_a_write_only_field_is_refused_at_its_line(tmp_path: Path, field: str) -> None:
    text = ISSUE_EXAMPLE + f"deployments:\n  d:\n    provider: metal\n    {field}\n"
    found = only(tmp_path, text)
    assert found.line == 18 and "can only be used in a write-only field" in found.message


@pytest.mark.parametrize(("ref", "message", "hint"), [
    ("${key.metal-snyc.secret}", "api key metal-snyc is not defined", 'did you mean "metal-sync"?'),
    ("${key.metal-sync.secert}", "api key metal-sync has no part secert", 'did you mean "secret"?'),
    ("${key.metlo-ingest.client_id}", "api key metlo-ingest has no part client_id",
     "its parts are: secret, identifier"),
])
def test_unknown_keys_and_parts_suggest_the_right_one(tmp_path: Path, ref: str, message: str, hint: str) -> None:
    text = ISSUE_EXAMPLE.replace("${key.metal-sync.client_id}", ref)
    found = only(tmp_path, text)
    assert (found.line, found.message, found.hint) == (11, message, hint)


def test_key_for_outside_the_metlo_types_and_on_metal(tmp_path: Path) -> None:
    text = ISSUE_EXAMPLE.replace("key_for: GENERIC", "key_for: generc").replace(
        "metal-sync: {backend: metal}", "metal-sync: {backend: metal, key_for: AWS}")
    found = problems(tmp_path, text)
    assert [(d.line, d.message, d.hint) for d in found] == [
        (6, 'key_for "generc" is not a Metlo key type', 'did you mean "GENERIC"?'),
        (7, "Metal keys have no type: key_for is for Metlo backends", None)]


def test_a_backend_whose_credentials_are_unset_names_the_variable(tmp_path: Path) -> None:
    env = {k: v for k, v in ENV.items() if k != "METAL_API_KEY"}
    found = only(tmp_path, ISSUE_EXAMPLE, env)
    assert (found.line, found.path, found.message) == (4, "key_backends.metal.api_key",
                                                       "environment variable METAL_API_KEY is not set")


@pytest.mark.parametrize("empty", [False, True], ids=["unset", "empty"])
@pytest.mark.parametrize("missing", ["METLO_ADMIN_KEY", "METLO_URL", "METAL_API_KEY", "METAL_CLIENT_ID", "METAL_URL"])
def test_plan_leaves_a_backend_without_its_url_or_credentials_unread(tmp_path: Path, missing: str,
                                                                     empty: bool) -> None:
    """plan loads without `key_credentials`: that backend's keys then come from the stack index."""
    # Credentials of this test alone: the scrubber keeps every secret the process has seen.
    fresh = {k: v if "URL" in k else f"{v}_{tmp_path.name}" for k, v in ENV.items()}
    env = {k: v for k, v in fresh.items() if k != missing} | ({missing: ""} if empty else {})
    state = load_config(write(tmp_path, ISSUE_EXAMPLE), env=env, key_credentials=False)
    unread = "metlo" if missing.startswith("METLO") else "metal"
    assert {b.name: b.readable for b in state.key_backends} == {"metlo": unread != "metlo", "metal": unread != "metal"}
    backend = next(b for b in state.key_backends if b.name == unread)
    assert backend.api_key is None and backend.client_id is None and backend.url == ""
    assert [k.name for k in state.api_keys] == ["metal-sync", "metlo-ingest"]
    for name, value in fresh.items():  # a credential at hand beside the missing one is still a secret of the run
        if name.startswith(unread.upper()) and name != missing and "URL" not in name:
            assert SECRETS.scrub(f"[{value}]") == "[***]"
    if not empty:  # apply's load: the same environment is an error naming the variable
        found = problems(tmp_path, ISSUE_EXAMPLE, env)
        assert f"environment variable {missing} is not set" in [d.message for d in found]


def test_a_credential_written_in_the_yaml_is_refused(tmp_path: Path) -> None:
    text = ISSUE_EXAMPLE.replace('api_key: "${env:METLO_ADMIN_KEY}"', "api_key: metlo_literal_key")
    found = only(tmp_path, text)
    assert found.line == 3 and "must come from ${env:NAME} or ${file:PATH}" in found.message
    assert "metlo_literal_key" not in str(found)


def test_a_key_nobody_consumes_is_an_error_unless_its_secret_is_written_out(tmp_path: Path) -> None:
    text = ISSUE_EXAMPLE.replace("  metal-sync: {backend: metal}\n",
                                 "  metal-sync: {backend: metal}\n  spare: {backend: metal}\n")
    found = only(tmp_path, text)
    assert (found.line, found.message) == (8, "api key spare is used by nothing: its one-time secret would be lost")
    assert "--secrets-out" in (found.hint or "")
    state = load_config(write(tmp_path, text), env=ENV, secrets_out=True)
    assert "spare" in {k.name for k in state.api_keys} and "spare" not in consumed(state)


def test_unknown_backend_field_and_type_suggest(tmp_path: Path) -> None:
    text = ISSUE_EXAMPLE.replace("metal-sync: {backend: metal}", "metal-sync: {backend: metall, rotate_afer: 9d}")
    text = text.replace("type: metlo,", "type: metlo, urls: x,")
    found = problems(tmp_path, text)
    assert [(d.line, d.message, d.hint) for d in found] == [
        (3, 'unknown field "urls"', 'did you mean "url"?'),
        (7, "key backend metall is not defined", 'did you mean "metal"?'),
        (7, 'unknown field "rotate_afer"', 'did you mean "rotate_after"?'),
    ]


@pytest.mark.parametrize(("url", "hosts", "ok"), [
    ("https://evil.example.com/collect", "", False),
    ("https://evil.example.com/collect", "metlo.internal, other.internal", False),
    ("https://metlo.internal/api", "other.internal,METLO.internal", True),
    ("${env:METLO_URL:-https://evil.example.com}", "", False),
    ("${env:CI_COMMIT_TITLE}", "", False),  # set, but not a variable the pipeline's owner names
    ("https://${env:METLO_HOST}/", "", False),
    ("${var.metlo_url}", "", False),
    ("local", "", True),
])
def test_credentials_go_only_to_a_url_set_outside_the_yaml(tmp_path: Path, url: str, hosts: str, ok: bool) -> None:
    text = ISSUE_EXAMPLE.replace('url: "${env:METLO_URL}"', f'url: "{url}"')
    env = ENV | {"METORIAL_APPLY_KEY_HOSTS": hosts, "METLO_HOST": "evil.example.com",
                 "CI_COMMIT_TITLE": "https://evil.example.com/collect"}
    with respx.mock(assert_all_called=False) as router:
        route = router.route()
        if ok:
            state = load_config(write(tmp_path, text), env=env)
            assert {b.name: b.url for b in state.key_backends}["metlo"] == url
        else:
            found = [d for d in problems(tmp_path, text, env) if d.path == "key_backends.metlo.url"]
            assert found and found[0].line == 3, found
    assert route.call_count == 0


def test_url_local_needs_no_credentials(tmp_path: Path) -> None:
    text = ISSUE_EXAMPLE.replace('{type: metal, url: "${env:METAL_URL}", client_id: "${env:METAL_CLIENT_ID}", '
                                 'api_key: "${env:METAL_API_KEY}"}', "{type: metal, url: local}")
    state = load_config(write(tmp_path, text), env={k: v for k, v in ENV.items() if "METAL" not in k})
    local = {b.name: b for b in state.key_backends}["metal"]
    assert (local.url, local.api_key, local.client_id, local.local) == ("local", None, None, True)


def test_offline_validate_warns_about_absent_credentials(tmp_path: Path) -> None:
    warnings: list[Diagnostic] = []
    load_config(write(tmp_path, ISSUE_EXAMPLE), env={"METLO_URL": "x", "METAL_URL": "y",
                "METORIAL_APPLY_KEY_URL_VARS": "METLO_URL,METAL_URL"}, warnings=warnings)
    assert [(w.line, w.message) for w in warnings] == [
        (3, "environment variable METLO_ADMIN_KEY is not set"), (4, "environment variable METAL_CLIENT_ID is not set"),
        (4, "environment variable METAL_API_KEY is not set")]


def test_an_unknown_top_level_key_suggests_the_key_sections(tmp_path: Path) -> None:
    found = problems(tmp_path, ISSUE_EXAMPLE.replace("api_keys:", "api_key:"))
    assert (found[0].line, found[0].hint) == (5, 'did you mean "api_keys"?')
    assert {d.message for d in found[1:]} == {"api key metal-sync is not defined",
                                             "api key metlo-ingest is not defined"}
