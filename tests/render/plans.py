"""Hand-built plans for the render tests, shaped like what `diff.py`/`plan.py` produce
(YAML vocabulary in before/after/diffs, secrets as "(secret)")."""

from __future__ import annotations

from typing import Any

from metorial_apply.core.model import Address, Resource, SecretValue
from metorial_apply.planning.plan import Action, Change, FieldDiff, Note, Plan
from metorial_apply.render import RenderContext, RenderStats

CANARY = "canary-5f3e9d1c-never-print-me"
CANARY_ENV = "canary-env-8a7b6c5d-never-print-me"

CONTEXT = RenderContext(
    api_url="https://api.metorial.com", config_path="prod/",
    stats=RenderStats(kinds=6, list_calls=7, seconds=0.63, api_calls=9),
    full_plan_hint="the plan.json artifact",
    plan_checksum="sha256:3f2a9c0d1e2b4a5968778695a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5",
)


def addr(text: str) -> Address:
    return Address.parse(text)


def resource(
    address: str, spec: dict[str, Any], *, secret: Any = None, sensitive: frozenset[str] = frozenset()
) -> Resource:
    return Resource(address=addr(address), spec=spec, secret=SecretValue(secret) if secret is not None else None,
                    sensitive=sensitive)


def creates() -> list[Change]:
    config = resource("config.linear-prod", {"name": "linear-prod", "deployment": "linear", "provider": "linear"},
                      secret={"token": CANARY})
    slack = resource("deployment.slack", {"name": "slack", "description": CANARY_ENV, "provider": "slack"},
                     sensitive=frozenset({"description"}))
    return [
        Change(action=Action.CREATE, address=addr("config.linear-prod"), reason="not in live state",
               after={"name": "linear-prod", "metadata": {}, "deployment": "linear", "provider": "linear",
                      "tools": [], "value": "(secret)"},
               depends_on=(addr("deployment.linear"),), desired=config),
        Change(action=Action.CREATE, address=addr("session_template.triage"), reason="not in live state",
               after={"name": "triage", "description": "Triage bot", "metadata": {}, "providers": [
                   {"deployment": "github", "config": "github-prod", "tools": []},
                   {"deployment": "linear", "config": "linear-prod", "tools": ["list_issues"]}]},
               depends_on=(addr("config.linear-prod"), addr("config.github-prod"))),
        Change(action=Action.CREATE, address=addr("deployment.slack"), reason="not in live state",
               after={"name": "Slack (support)", "description": "(secret)", "metadata": {"team": "support"},
                      "provider": "slack", "tools": ["post_message", {"tool_regex": "^list_"}]},
               desired=slack),
    ]


def updates() -> list[Change]:
    long_text = "Session template for the support bot: " + "GitHub, Linear and Slack tools " * 4
    return [
        Change(action=Action.UPDATE, address=addr("deployment.github"), reason="description, tools changed",
               drift=True, id="pde_1aBcDe", fields=("description", "tool_filters"), diffs=(
                   FieldDiff(field="description", before="edited by hand", after="GitHub tools for support"),
                   FieldDiff(field="tools", before=["create_issue"], after=["create_issue", "list_issues"]))),
        Change(action=Action.UPDATE, address=addr("session_template.support"), reason="description, providers changed",
               id="stm_9xYz", diffs=(
                   FieldDiff(field="description", before="Support", after=long_text),
                   FieldDiff(field="providers[github].tools", before=[], after=[{"tool_regex": "^list_"}]),
                   FieldDiff(field="providers[linear]", before={"deployment": "linear", "tools": []}, after=None),
                   FieldDiff(field="providers[slack]", before=None,
                             after={"deployment": "slack", "auth_config": "slack-oauth", "tools": []}))),
    ]


def destructive() -> list[Change]:
    return [
        Change(action=Action.REPLACE, address=addr("config.github-prod"), id="pcf_7dEfGh",
               reason="value changed (secret): new config, repoint 1 template provider, delete old",
               replace_mode="create_first",
               diffs=(FieldDiff(field="value", before="(secret)", after="(secret)", secret=True),),
               desired=resource("config.github-prod", {"name": "github-prod"}, secret={"token": CANARY})),
        Change(action=Action.DELETE, address=addr("auth_config.old-oauth"), id="pac_4hIjKl", reason="not in config",
               before={"name": "old-oauth", "metadata": {}, "deployment": "github", "provider": "github",
                       "method": "oauth", "tools": []}),
    ]


def noops() -> list[Change]:
    return [Change(action=Action.NOOP, address=addr(a), reason="unchanged", id=i)
            for a, i in (("deployment.linear", "pde_2bCdEf"), ("auth_config.github-oauth", "pac_3cDeFg"))]


def full_plan() -> Plan:
    """Every action, drift, a secret change, a sensitive field, child diffs; in execution order."""
    changes = noops() + creates()[:1] + destructive()[:1] + updates() + creates()[1:] + destructive()[1:]
    notes = (Note(address=addr("auth_config.github-oauth"),
                  text="the API cannot clear an auth config's description; set another text to change it"),)
    return Plan(stack="production", changes=tuple(changes), config_path="prod/", notes=notes,
                live_fingerprints={"deployment.github": "sha256:aa", "config.github-prod": "sha256:bb"})


def empty_plan() -> Plan:
    return Plan(stack="production", changes=tuple(noops()))


def big_plan(count: int = 2000) -> Plan:
    """`count` resources: a tenth deleted, a fifth updated, the rest created or unchanged."""
    changes = []
    for i in range(count):
        address = addr(f"deployment.service-{i:04d}")
        if i % 10 == 0:
            changes.append(Change(action=Action.DELETE, address=address, reason="not in config", id=f"pde_{i}",
                                  before={"name": f"service-{i:04d}", "provider": "github", "tools": []}))
        elif i % 5 == 1:
            changes.append(Change(action=Action.UPDATE, address=address, reason="description changed", id=f"pde_{i}",
                                  diffs=(FieldDiff(field="description", before=f"old {i}", after=f"new {i} " * 8),)))
        elif i % 3 == 0:
            changes.append(Change(action=Action.NOOP, address=address, reason="unchanged", id=f"pde_{i}"))
        else:
            changes.append(
                Change(
                    action=Action.CREATE,
                    address=address,
                    reason="not in live state",
                    after={
                        "name": f"service-{i:04d}",
                        "description": f"Service {i}",
                        "provider": "github",
                        "tools": ["a", "b"],
                        "metadata": {"team": "platform", "tier": str(i % 3)},
                    },
                )
            )
    return Plan(stack="production", changes=tuple(changes))


def adopt_plan() -> Plan:
    """import (with field updates), takeover, move (renamed) and forget, plus a look-alike note
    and the note an imported write-only value gets; in execution order."""
    changes = [
        Change(action=Action.IMPORT, address=addr("deployment.github"), id="pde_1aBcDe",
               reason="adopt pde_1aBcDe; description changed", fields=("description",),
               diffs=(FieldDiff(field="description", before=None, after="GitHub tools"),)),
        Change(action=Action.IMPORT, address=addr("config.github-prod"), id="pcf_7dEfGh", reason="adopt pcf_7dEfGh"),
        Change(action=Action.TAKEOVER, address=addr("deployment.linear"), id="pde_2bCdEf",
               reason="take over pde_2bCdEf from stack 'staging'"),
        Change(action=Action.MOVE, address=addr("deployment.slack"), id="pde_3cDeFg", fields=("name",),
               reason="moved from deployment.slack-old; name changed", moved_from=addr("deployment.slack-old"),
               diffs=(FieldDiff(field="name", before="slack-old", after="slack"),)),
        Change(action=Action.FORGET, address=addr("auth_config.old-oauth"), id="pac_4hIjKl", fields=("metadata",),
               reason="removed: stop managing it, keep the object"),
        Change(action=Action.CREATE, address=addr("deployment.notion"), reason="not in live state",
               after={"name": "notion", "provider": "notion", "metadata": {}, "tools": []}),
    ]
    notes = (
        Note(address=addr("config.github-prod"), text=(
            "value cannot be read from the API: the configured value is taken as the live one and compared from now "
            "on; a config cannot PATCH its value, so the next change to it replaces the object")),
        Note(address=addr("deployment.notion"), text=(
            "an unmanaged deployment named notion exists (pde_9zZz); to adopt it, add "
            "`imports: [{to: deployment.notion, id: pde_9zZz}]`")),
    )
    return Plan(stack="production", changes=tuple(changes), config_path="prod/", notes=notes,
                live_fingerprints={"deployment.github": "sha256:aa", "deployment.slack": "sha256:bb"})


def key_plan() -> Plan:
    """api keys, planned by build_plan as `plan` does: one created (nothing consumes it), one
    rotated (its vault re-created with the new secret), one whose secret was lost (deleted and
    created again, its vault created), one gone from the configuration."""
    from metorial_apply.core.keys import DesiredKey, KeyBackend, LiveKey, bind, slot
    from metorial_apply.core.state import State
    from metorial_apply.planning.plan import build_plan
    from tests.plan.factory import desired, live

    def vault(name: str, key: str, provider: str) -> Resource:
        return desired("config_vault", name, {"provider": provider, "value": {"api_key": slot(key, "secret")}})

    def key(name: str, identity: str, backend: str = "metlo", key_for: str | None = "GENERIC") -> LiveKey:
        return LiveKey(backend=backend, name=name, identity=identity, id=name, key_for=key_for)

    sync = vault("sync-creds", "sync", "metal")
    assert sync.secret is not None
    held = live(sync.model_copy(update={"secret": bind(sync.secret, {"sync": "ci_9fK2mQ7xLp"})}), id="pcvt_5mNoPq",
                stack="production")
    assert held.stamp is not None
    held = held.model_copy(update={"stamp": held.stamp.model_copy(update={"keys": "sync=ci_9fK2mQ7xLp"}),
                                   "fingerprint": "sha256:cc"})  # fixed: the factory's varies by process
    wanted = State.of("production", [sync, vault("audit-creds", "audit", "metlo")], api_keys=(
        DesiredKey(name="ingest", backend="metlo", key_for="GENERIC"),
        DesiredKey(name="audit", backend="metlo", key_for="ONBOARDING"),
        DesiredKey(name="sync", backend="metal"),
    ), key_backends=(KeyBackend(name="metlo", type="metlo", url="local", url_from="local"),
                     KeyBackend(name="metal", type="metal", url="local", url_from="local")))
    keys = (key("production~audit~1", "metlo.x7k2p9q1a", key_for="ONBOARDING"),
            key("production~old~3", "metlo.q4w8e2r6t"),
            key("production~sync~1", "ci_9fK2mQ7xLp", backend="metal", key_for=None))
    plan = build_plan(wanted, State.of("production", [held], keys=keys), rotate=("sync",))
    return plan.model_copy(update={"config_path": "prod/"})
