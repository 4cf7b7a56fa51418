"""An organization made by hand, the way a dashboard user would: objects of every kind created
straight through the API with httpx (no stamp, no metorial-apply), with awkward names (shared,
empty, punctuation, `${…}`), tool filters, and canary secrets in every write-only value. Used by
the export tests (and the unmanaged round trip that needs `imports:`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.emulator_server import SECRET_KEY

# Names a dashboard accepts and a YAML key cannot be: shared, punctuation, interpolation, long.
# (A blank name has no YAML form: `name:` defaults to the key, so export notes it; not used here.)
ODD_NAMES = ("Support Bot", "Support Bot", "ünïcode ✓ (prod) #1", "${env:HOME}", "-.leading", "a" * 120)


@dataclass
class Organization:
    """Ids of what was made, by kind, and every secret value planted."""

    ids: dict[str, list[str]] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)
    values: dict[tuple[str, str], str] = field(default_factory=dict)  # (id, "value.token") → secret
    default_configs: list[str] = field(default_factory=list)  # auto-created by the platform

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.ids.values())


class Maker:
    def __init__(self, url: str, canary: str) -> None:
        self.http = httpx.Client(base_url=url, headers={"Authorization": f"Bearer {SECRET_KEY}"}, timeout=10)
        self.canary, self.org = canary, Organization()
        self.pending: dict[str, str] = {}  # secrets of the object being made, by field

    def secret(self, path: str) -> str:
        value = f"{self.canary}-{path}-{len(self.org.secrets)}"
        self.org.secrets.append(value)
        self.pending[path] = value
        return value

    def post(self, kind: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.http.post(path, json=body)
        assert response.status_code < 300, response.text
        made = response.json()
        self.org.ids.setdefault(kind, []).append(made["id"])
        self.org.values |= {(made["id"], path): value for path, value in self.pending.items()}
        self.pending = {}
        return made

    def name(self, i: int, stem: str) -> str:
        return ODD_NAMES[i] if i < len(ODD_NAMES) else f"{stem} {i}"


def make_organization(url: str, canary: str, scale: int = 10) -> Organization:
    """`scale` objects of each kind (vaults and credentials fewer), about 7·scale in all."""
    m = Maker(url, canary)
    deployments = [m.post("deployment", "/provider-deployments", {
        "provider_id": "github", "name": m.name(i, "GitHub"), "description": f"deployment {i}",
        "metadata": {"team": f"t{i % 3}"} if i % 2 else {},
        "tool_filters": [{"type": "tool_keys", "keys": ["list_issues", "create_issue"]}] if i % 3 == 0 else [],
    })["id"] for i in range(scale)]
    m.post("deployment", "/provider-deployments", {"provider_id": "linear", "name": "Linear",
                                                   "locked_provider_version_id": _version(m, "linear")})
    vaults = [m.post("config_vault", "/provider-config-vaults", {
        "provider_id": "github", "name": f"vault {i}", "value": {"base_url": m.secret("value.base_url")},
        **({"provider_deployment_id": deployments[i]} if i % 2 else {}),
    })["id"] for i in range(scale // 2)]
    configs = [m.post("config", "/provider-configs", {
        "provider_id": "github", "provider_deployment_id": deployments[i], "name": m.name(i, "config"),
        "value": {"base_url": m.secret("value.base_url")},
        "tool_filters": [{"type": "tool_regex", "pattern": "^list_"}] if i % 2 else [],
    })["id"] for i in range(scale)]
    for i, vault in enumerate(vaults):
        m.post("config", "/provider-configs", {"provider_id": "github", "provider_config_vault_id": vault,
                                               "name": f"from vault {i}"})
    auths = [m.post("auth_config", "/provider-auth-configs", {
        "provider_auth_method_id": "token", "provider_deployment_id": deployments[i], "name": m.name(i, "token"),
        "value": {"token": m.secret("value.token")}, "description": "pat" if i % 2 else None,
    })["id"] for i in range(scale)]
    for i in range(scale // 2):
        m.post("auth_credentials", "/provider-auth-credentials", {
            "provider_id": "github", "name": f"app {i}", "config": {
                "type": "oauth", "client_id": m.secret("client_id"), "client_secret": m.secret("client_secret"),
                "scopes": ["repo"] if i % 2 else ["repo", "read:org"]}})
    _templates(m, deployments, configs, auths, scale)
    m.http.close()
    return m.org


def _templates(m: Maker, deployments: list[str], configs: list[str], auths: list[str], scale: int) -> None:
    for i in range(scale):
        provider: dict[str, Any] = {"provider_deployment_id": deployments[i], "provider_auth_config_id": auths[i]}
        if i:  # the first leaves the config out: the platform makes a default config for it
            provider["provider_config_id"] = configs[i]
        if i % 2:
            provider["tool_filters"] = [{"type": "tool_keys", "keys": ["get_issue"]}]
        made = m.post("session_template", "/session-templates", {
            "name": m.name(i, "template"), "description": f"template {i}", "providers": [provider]})
        if not i:
            m.org.default_configs.append(made["providers"][0]["config"]["id"])


def _version(m: Maker, slug: str) -> str:
    provider = next(p for p in m.http.get("/providers", params={"limit": 100}).json()["items"] if p["slug"] == slug)
    return provider["current_version"]["id"]
