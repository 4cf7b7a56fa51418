"""Conformance with the vendor's published client, the official `metorial` SDK (2.6.x).

Client and emulator are both ours, so they can agree with each other and both be wrong. These
tests drive our client through integration runs against the emulator (plans and applies of the
quickstart, a stack of every kind, generated configurations, and a teardown), record every
request and response at the transport, and check them against the SDK's generated endpoints:

(a) every request matches an SDK endpoint: method, path template, body and query keys among its
    parameters;
(b) every 2xx response parses through the SDK's mapper with no field the SDK's type lacks, no
    required field missing and no value of another JSON type than the field's (timestamps ISO
    8601), and every key our client read from it exists in the SDK's type;
(c) every managed object's `object` is the contract's name, and embedded previews `<name>#preview`.

Each check is shown failing on a synthetic change (a renamed field, a value of another type, a
renamed object). Error bodies are checked in test_sdk_errors.py.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from hypothesis import HealthCheck, given, settings

from metorial_apply.api.catalog import fetch_catalog
from metorial_apply.api.client import open_client
from metorial_apply.api.live import fetch_live
from metorial_apply.api.responses import Reply
from metorial_apply.apply.run import apply_plan
from metorial_apply.config.load import load_config
from metorial_apply.config.resolve import resolve_names
from metorial_apply.core.errors import ApiCall
from metorial_apply.emulator import EmulatorSettings, asgi_transport, create_app
from metorial_apply.planning.plan import build_plan
from tests.conformance.sdk import (
    Endpoint,
    Seen,
    Sent,
    endpoints,
    matching,
    output_type,
    read_problems,
    request_problems,
    shape_problems,
)
from tests.plan.yamlgen import ENV, STACK, configs, dump, unprotected

REPO = Path(__file__).resolve().parents[2]
EVERY_KIND = """\
stack: prop
deployments:
  gh: {provider: github, description: GitHub, metadata: {team: a}, tools: [create_issue, {tool_regex: ^list_}],
       version: 1.0.0}
  sl: {provider: slack}
config_vaults:
  shared: {deployment: gh, value: {base_url: "https://api.github.com"}}
configs:
  from-vault: {vault: shared, tools: [list_issues]}
  sl-cfg: {deployment: sl, value: {workspace: acme}}
auth_credentials:
  gh-app: {provider: github, client_id: id, client_secret: secret, scopes: [repo]}
auth_configs:
  gh-token: {deployment: gh, method: token, value: {token: t}, description: rotated}
  sl-bot: {deployment: sl, method: bot_token, value: {bot_token: b}}
session_templates:
  bot:
    description: Support
    providers:
      - {deployment: gh, config: from-vault, auth_config: gh-token, tools: [get_issue]}
      - {deployment: sl, config: sl-cfg, auth_config: sl-bot}
"""


@dataclass
class Recording:
    sent: list[Sent] = field(default_factory=list)
    seen: list[Seen] = field(default_factory=list)


class Recorder(httpx.AsyncBaseTransport):
    """Records every request our client sends, then passes it to the emulator."""

    def __init__(self, inner: httpx.AsyncBaseTransport, recording: Recording) -> None:
        self.inner, self.recording = inner, recording

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        self.recording.sent.append(Sent(request.method, request.url.path, frozenset(request.url.params.keys()), body))
        return await self.inner.handle_async_request(request)


class ReadDict(dict):  # type: ignore[type-arg]
    """A response object that notes which keys our code reads from it."""

    def __init__(self, raw: dict[str, Any], reads: set[tuple[str, ...]], path: tuple[str, ...]) -> None:
        super().__init__({k: tracked(v, reads, path + (k,)) for k, v in raw.items()})
        self._reads, self._path = reads, path

    def __getitem__(self, key: Any) -> Any:
        self._reads.add(self._path + (key,))
        return super().__getitem__(key)

    def get(self, key: Any, default: Any = None) -> Any:
        self._reads.add(self._path + (key,))
        return super().get(key, default)

    def __contains__(self, key: object) -> bool:
        self._reads.add(self._path + (str(key),))
        return super().__contains__(key)


def tracked(value: Any, reads: set[tuple[str, ...]], path: tuple[str, ...]) -> Any:
    if isinstance(value, dict):
        # Below metadata, filters and schemas the keys are user or provider data, not API fields.
        return value if path and path[-1] in OPAQUE else ReadDict(value, reads, path)
    if isinstance(value, list):
        return [tracked(v, reads, path + ("*",)) for v in value]
    return value


OPAQUE = {"metadata", "tool_filter", "config_schema", "input_schema", "output_schema", "schema", "capabilities",
          "constraints", "tags"}


@contextmanager
def reads_recorded(found: Recording) -> Iterator[None]:
    """While inside, every 2xx JSON body our client parses is recorded with the keys it reads.
    Our client parses bodies only through `Reply.json` (after its size, depth and value caps)."""
    original = Reply.json

    def json_with_reads(reply: Reply, call: ApiCall) -> Any:
        raw = original(reply, call)
        if not reply.is_success:
            return raw
        seen = Seen(call.method, call.path, raw)
        found.seen.append(seen)
        return tracked(raw, seen.reads, ())

    Reply.json = json_with_reads  # type: ignore[method-assign]
    try:
        yield
    finally:
        Reply.json = original  # type: ignore[method-assign]


async def converge(texts: list[str], recording: Recording) -> None:
    """Plan and apply each configuration in turn against one fresh emulator, then tear down."""
    app = create_app(EmulatorSettings())
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "stack.yaml"
        async with open_client("local", None, transport=Recorder(asgi_transport(app), recording)) as client:
            for text in [*texts, f"stack: {STACK}\n"]:
                path.write_text(text)
                catalog = await fetch_catalog(client)
                desired = resolve_names(load_config(path, env=ENV), catalog)
                plan = build_plan(desired, await fetch_live(client, desired.stack, catalog))
                report = await apply_plan(plan, client, catalog=catalog)
                assert all(r.outcome.value == "done" for r in report.results), [r.summary() for r in report.results]
    app.state.emulator.close()


@pytest.fixture(scope="module")
def sdk() -> list[Endpoint]:
    return endpoints()


@pytest.fixture(scope="module")
def integration() -> Recording:
    recording = Recording()
    quickstart = (REPO / "examples" / "quickstart" / "stack.yaml").read_text().replace("quickstart", STACK)
    edited = (EVERY_KIND.replace("description: Support", "description: Triage").replace(", version: 1.0.0", "")
              .replace("tools: [get_issue]", "tools: [list_issues]")  # PATCH a template provider
              .replace("      - {deployment: sl, config: sl-cfg, auth_config: sl-bot}\n", ""))  # DELETE one
    with reads_recorded(recording):
        anyio.run(converge, [quickstart, EVERY_KIND, edited], recording)
    return recording


def tolerated(problem: str, cls: type) -> bool:
    """The one divergence recorded in emulator/choices.py: list envelopes' `object: "list"`
    (metorial-api.md documents it; the SDK's list types omit it and its mappers ignore it)."""
    return cls.__name__.endswith("ListOutput") and problem == f"object: not a field of the SDK's {cls.__name__}"


def response_problems(seen: list[Seen], sdk: list[Endpoint]) -> list[str]:
    problems = []
    for s in seen:
        candidates = [e for e in matching(sdk, s.method, s.path) if output_type(e) is not None]
        if not candidates:
            problems.append(f"{s.method} {s.path}: no SDK endpoint with a response type")
            continue
        cls = output_type(candidates[0])
        assert cls is not None
        candidates[0].mapper(s.body)  # type: ignore[misc]  # the SDK's own parser takes it
        problems += [f"{s.method} {s.path}: {p}" for p in shape_problems(s.body, cls)
                     if not tolerated(p, cls)]
        problems += read_problems(s, cls)
    return sorted(set(problems))


def test_every_request_matches_an_sdk_endpoint(integration: Recording, sdk: list[Endpoint]) -> None:
    methods = {s.method for s in integration.sent}
    assert methods == {"GET", "POST", "PATCH", "DELETE"}, methods  # the run exercised every verb
    assert request_problems(integration.sent, sdk) == []


def test_every_response_parses_and_every_field_read_is_in_the_sdk_types(integration: Recording,
                                                                        sdk: list[Endpoint]) -> None:
    assert {s.path.split("/")[1] for s in integration.seen} >= {
        "providers", "provider-versions", "provider-specifications", "provider-deployments", "provider-configs",
        "provider-config-vaults", "provider-auth-configs", "provider-auth-credentials", "session-templates",
        "session-template-providers"}
    assert response_problems(integration.seen, sdk) == []


@settings(max_examples=4, derandomize=True, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(config=configs())
def test_generated_configurations_conform(config: dict[str, Any], sdk: list[Endpoint]) -> None:
    found = Recording()
    with reads_recorded(found):
        anyio.run(converge, [dump(unprotected(config))], found)
    assert request_problems(found.sent, sdk) == []
    assert response_problems(found.seen, sdk) == []


def test_a_renamed_request_body_field_is_caught(integration: Recording, sdk: list[Endpoint]) -> None:
    create = next(s for s in integration.sent if s.method == "POST" and s.path == "/provider-deployments")
    body = dict(create.body or {})
    body["tool_filter"] = body.pop("tool_filters", [])
    renamed = Sent(create.method, create.path, create.query, body)
    assert request_problems([renamed], sdk) == [
        "POST /provider-deployments: tool_filter not among "
        "provider_deployments.MetorialProviderDeploymentsEndpoint.create's parameters"]


def test_a_renamed_response_field_is_caught(integration: Recording, sdk: list[Endpoint]) -> None:
    got = next(s for s in integration.seen if s.method == "POST" and s.path == "/provider-deployments")
    raw = dict(got.body)
    raw["toolFilter"] = raw.pop("tool_filter")
    problems = response_problems([Seen(got.method, got.path, raw, set(got.reads))], sdk)
    assert any("toolFilter: not a field" in p for p in problems), problems
    assert any("tool_filter: required by the SDK" in p for p in problems), problems
    # and a field our client reads (from the live read's list) under another name than the SDK's
    listed = max((s for s in integration.seen if s.method == "GET" and s.path == "/provider-deployments"),
                 key=lambda s: len(s.reads))
    field = ("items", "*", "provider_id")
    assert field in listed.reads
    reads = {("items", "*", "provider_ident") if r == field else r for r in listed.reads}
    problems = response_problems([Seen(listed.method, listed.path, listed.body, reads)], sdk)
    assert problems == ["GET /provider-deployments: reads items.*.provider_ident, not in the SDK's "
                        "DashboardInstanceProviderDeploymentsListOutputItems"], problems


def test_a_value_of_another_type_is_caught(integration: Recording, sdk: list[Endpoint]) -> None:
    got = next(s for s in integration.seen if s.method == "POST" and s.path == "/provider-deployments")
    raw = dict(got.body) | {"is_default": "false", "metadata": ["a"], "locked_version": None}
    problems = response_problems([Seen(got.method, got.path, raw, set())], sdk)
    assert [p.split(" (the SDK")[0] for p in problems] == [
        "POST /provider-deployments: is_default: str 'false', not bool",
        "POST /provider-deployments: metadata: list, not an object"], problems
    cls = output_type(matching(sdk, "POST", "/provider-deployments")[0])
    assert cls is not None  # a timestamp the SDK's own parser would also refuse
    assert [p.split(" (the SDK")[0] for p in shape_problems(dict(got.body) | {"created_at": "yesterday"}, cls)] == [
        "created_at: str 'yesterday', not datetime"]


# `object` of each managed kind (metorial-api.md's headings) and of the previews embedded under
# these link fields (`<name>#preview`, as the engine's presenters answered in tests/engine runs).
OBJECT_NAMES = {"provider-deployments": "provider.deployment", "provider-configs": "provider.config",
                "provider-config-vaults": "provider.config_vault", "provider-auth-configs": "provider.auth_config",
                "session-templates": "session.template", "session-template-providers": "session.template.provider"}
PREVIEWS = {"deployment": "provider.deployment", "default_config": "provider.config", "config": "provider.config",
            "auth_config": "provider.auth_config"}


def object_name_problems(seen: Seen) -> list[str]:
    """Top-level (or list items') `object` against the contract's name; embedded previews'."""
    body, collection = seen.body, seen.path.split("/")[1]
    if not isinstance(body, dict) or collection not in OBJECT_NAMES or seen.path.endswith("/tools"):
        return []
    listed = body.get("object") == "list"
    problems = []
    for item in body.get("items", []) if listed else [body]:
        if item.get("object") != OBJECT_NAMES[collection]:
            problems.append(f"{seen.method} {seen.path}: object {item.get('object')!r}, "
                            f"not {OBJECT_NAMES[collection]!r}")
        for holder in [item, *item.get("providers", [])]:
            for link, name in PREVIEWS.items():
                embedded = holder.get(link)
                if isinstance(embedded, dict) and embedded.get("object") != f"{name}#preview":
                    problems.append(f"{seen.method} {seen.path}: {link}.object {embedded.get('object')!r}")
    return problems


def test_object_names_follow_the_contract(integration: Recording) -> None:
    names = [p for s in integration.seen for p in object_name_problems(s)]
    assert names == []
    assert {s.path.split("/")[1] for s in integration.seen} >= set(OBJECT_NAMES)
    got = next(s for s in integration.seen if s.method == "POST" and s.path == "/session-templates")
    renamed = dict(got.body) | {"object": "session_template"}
    assert object_name_problems(Seen(got.method, got.path, renamed)) == [
        "POST /session-templates: object 'session_template', not 'session.template'"]
