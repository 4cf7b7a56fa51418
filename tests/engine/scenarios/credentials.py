"""What the platform's engine does with OAuth credentials (issue 20, item 7), asked of the engine itself.

Runs against the subspace controller started by /work/shared/real-engine (README there), over its
internal RPC, and prints one JSON document with the engine's actual outcomes:

  a. does an update carrying clientId / clientSecret / scopes change the credentials?
  b. is there an archive/delete method for credentials (and what happens to what is bound to them)?
  c. can an auth config be bound or re-pointed to credentials on create or update?
  d. does the engine make "managed" (default / auto-registration) credentials?

Usage:
  SUBSPACE_URL=http://127.0.0.1:<port>/subspace-controller python3 tests/engine/scenarios/credentials.py
Optional: SUBSPACE_HARNESS (the dir holding subspace_rpc.py; default /work/shared/real-engine/harness),
DATABASE_URL (the engine's Postgres, from $RUN_DIR/env: adds a read of the stored row behind the
credentials, which holds the link to the OAuth client the RPC never shows); RUN_DIR with a controller
started under STUB_LOG=1: lists the calls the update made to the OAuth-client service (slates-hub).

Standalone on purpose (stdlib + the harness client): a conformance suite runs it later as a script.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from typing import Any

HARNESS = os.environ.get("SUBSPACE_HARNESS", "/work/shared/real-engine/harness")
sys.path.insert(0, HARNESS)
from subspace_rpc import Subspace, SubspaceRpcError  # noqa: E402  (path set just above)

# The engine version the harness pins (real-engine/README.md); RPC cannot report it.
ENGINE_COMMIT = "8cedab285ebc047b0d353bc84dcd93bc690f06d1"
Result = dict[str, Any]


def attempt(s: Subspace, base: dict[str, str], method: str, **payload: Any) -> Result:
    """One RPC call as data: {"ok", "result"} or {"ok": false, "status", "code", "message"}."""
    try:
        return {"ok": True, "result": s.call(method, **base, **payload)}
    except SubspaceRpcError as e:
        body = e.body if isinstance(e.body, dict) else {}
        return {"ok": False, "status": e.status, "code": body.get("code"), "message": body.get("message")}
    except (OSError, ValueError) as e:  # a crash inside the engine answers a non-JSON 500 (stubbed services)
        return {"ok": False, "status": None, "code": "transport", "message": f"{type(e).__name__}: {e}"[:300]}


def connect(url: str) -> tuple[Subspace, dict[str, str]]:
    """A fresh tenant per run, so repeated runs never see each other's objects."""
    s = Subspace(url)
    s.solution_id = s.call("solution:upsert", name="Metorial Platform", identifier="metorial-platform-local")["id"]
    tag = f"mte-creds-{int(time.time() * 1000)}"
    envs = [{"name": "Dev", "identifier": f"{tag}-dev", "type": "development"}]
    tenant = s.call("tenant:upsert", name="Credentials scenario", identifier=tag, environments=envs)
    env = s.call("environment:upsert", tenantId=tenant["id"], name="Dev", identifier=f"{tag}-dev", type="development")
    return s, {"tenantId": tenant["id"], "environmentId": env["id"]}


def oauth_provider(s: Subspace, base: dict[str, str]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The fixture provider with token and OAuth methods (harness/slates-fixture.json)."""
    providers = s.call("provider:list", limit=50, **base)["items"]
    provider = next(p for p in providers if p["name"].startswith("Git Hub"))
    version = s.call("providerVersion:list", providerIds=[provider["id"]], limit=5, **base)["items"][0]
    methods = s.call("providerAuthMethod:list", providerVersionId=version["id"], limit=10, **base)["items"]
    return provider, methods


def stored_row(credentials_id: str) -> dict[str, Any] | None:
    """The engine's own row for the credentials (backing OAuth client link), when DATABASE_URL is given."""
    url = os.environ.get("DATABASE_URL")
    if not url or not shutil.which("psql") or not re.fullmatch(r"[A-Za-z0-9_]+", credentials_id):
        return None  # ids are engine-made; anything else is not put into SQL
    query = ('select row_to_json(c) from (select "slateCredentialsOid"::text, "isDefault", "isAutoRegistration",'
             f' status, type from "ProviderAuthCredentials" where id = \'{credentials_id}\') c')
    out = subprocess.run(["psql", url, "-tAc", query], capture_output=True, text=True, check=False).stdout.strip()
    return json.loads(out) if out else None


def log_mark() -> int:
    """Where the controller's log ends now (0 without one): calls to stubbed services are read from here on."""
    path = os.path.join(os.environ.get("RUN_DIR", ""), "controller.log")
    return os.path.getsize(path) if os.environ.get("RUN_DIR") and os.path.exists(path) else -1


def oauth_client_calls(mark: int) -> list[str] | None:
    """The engine's calls to the OAuth-client service (slates-hub) since `mark`: the update must make none.
    Needs RUN_DIR and a controller started with STUB_LOG=1 (the stub logs each call); None otherwise."""
    if mark < 0:
        return None
    with open(os.path.join(os.environ["RUN_DIR"], "controller.log"), encoding="utf-8", errors="replace") as log:
        log.seek(mark)
        return [line.strip()[:160] for line in log if "[stub slates-hub] slateOAuthCredentials" in line]


def question_a(s: Subspace, base: dict[str, str], provider: dict[str, Any]) -> Result:
    """Update with the client fields, flat and nested under `config`: are they applied?"""
    config = {"type": "oauth", "clientId": "client-1", "clientSecret": "secret-1", "scopes": ["repo"]}
    created = s.call("providerAuthCredentials:create", providerId=provider["id"], name="creds-a", description="d",
                     config=config, **base)
    ident = created["id"]
    row_before, mark = stored_row(ident), log_mark()
    flat = attempt(s, base, "providerAuthCredentials:update", providerAuthCredentialsId=ident, name="renamed",
                   clientId="client-2", clientSecret="secret-2", scopes=["repo", "user"])
    nested = attempt(s, base, "providerAuthCredentials:update", providerAuthCredentialsId=ident,
                     config={**config, "clientId": "client-3", "scopes": ["admin"]})
    blank = attempt(s, base, "providerAuthCredentials:update", providerAuthCredentialsId=ident, description="")
    after = s.call("providerAuthCredentials:get", providerAuthCredentialsId=ident, **base)
    row_after, calls = stored_row(ident), oauth_client_calls(mark)
    return {
        "created_fields": sorted(created), "read_back_fields": sorted(after),
        "client_fields_in_object": sorted(set(after) & {"clientId", "clientSecret", "scopes", "config"}),
        "update_flat": _status(flat), "update_nested_config": _status(nested),
        "name_after": after["name"], "blank_description_update": _status(blank),
        "description_after_blank": after["description"],
        "updated_at_changed": after["updatedAt"] != created["updatedAt"],
        "backing_row_before": row_before, "backing_row_after": row_after,
        "backing_client_link_unchanged": None if row_before is None else row_before == row_after,
        "oauth_client_service_calls_during_update": calls,
    }


def _status(outcome: Result) -> Result:
    """An attempt without its (large) result body."""
    return {k: v for k, v in outcome.items() if k != "result"}


# Controllers probed for archive/delete handlers: credentials, what binds to them, and (for comparison)
# the other kinds whose public DELETE the contract describes.
PROBED = (("providerAuthCredentials", "providerAuthCredentialsId"), ("providerAuthConfig", "providerAuthConfigId"),
          ("providerOAuthSetup", "providerOAuthSetupId"), ("providerSetupSession", "providerSetupSessionId"),
          ("providerDeployment", "providerDeploymentId"), ("providerConfig", "providerConfigId"),
          ("providerConfigVault", "providerConfigVaultId"))


def question_b(s: Subspace, base: dict[str, str], provider: dict[str, Any]) -> Result:
    """Which archive/delete methods exist, for credentials and for what binds to them."""
    config = {"type": "oauth", "clientId": "client-b", "clientSecret": "secret-b", "scopes": []}
    ident = s.call("providerAuthCredentials:create", providerId=provider["id"], config=config, **base)["id"]
    methods = {}
    for method in ("delete", "archive"):
        for ctrl, key in PROBED:
            methods[f"{ctrl}:{method}"] = _status(attempt(s, base, f"{ctrl}:{method}", **{key: ident}))
    after = s.call("providerAuthCredentials:get", providerAuthCredentialsId=ident, **base)
    setup = attempt(s, base, "providerOAuthSetup:create", providerId=provider["id"], name="setup-b",
                    providerAuthCredentialsId=ident, config={})
    return {"methods": methods, "status_after_attempts": after["status"],
            "oauth_setup_with_credentials": _status(setup)}


def question_c(s: Subspace, base: dict[str, str], provider: dict[str, Any], methods: list[dict[str, Any]]) -> Result:
    """An auth config given credentials on create, then re-pointed on update: does the link take?"""
    config = {"type": "oauth", "clientId": "client-c", "clientSecret": "secret-c", "scopes": []}
    first = s.call("providerAuthCredentials:create", providerId=provider["id"], config=config, **base)["id"]
    second = s.call("providerAuthCredentials:create", providerId=provider["id"], config=config, **base)["id"]
    token = next(m for m in methods if m.get("type") == "token")
    made = attempt(s, base, "providerAuthConfig:create", providerId=provider["id"], providerAuthMethodId=token["id"],
                   ip="127.0.0.1", ua="scenario", name="ac-c", config={"token": "t"}, providerAuthCredentialsId=first)
    if not made["ok"]:
        return {"create_with_credentials": _status(made)}
    ident = made["result"]["id"]
    updated = attempt(s, base, "providerAuthConfig:update", providerAuthConfigId=ident, ip="127.0.0.1", ua="scenario",
                      providerAuthCredentialsId=second, name="ac-c2")
    after = s.call("providerAuthConfig:get", providerAuthConfigId=ident, **base)
    return {
        "create_with_credentials": _status(made), "credentials_after_create": _cred_id(made["result"]),
        "update_with_other_credentials": _status(updated), "credentials_after_update": _cred_id(after),
        "name_after_update": after["name"], "first": first, "second": second,
    }


def _cred_id(auth_config: dict[str, Any]) -> str | None:
    credentials = auth_config.get("credentials")
    return credentials["id"] if credentials else None


def question_d(s: Subspace, base: dict[str, str], provider: dict[str, Any]) -> Result:
    """Does anything the engine makes carry isManaged, and which credentials are isDefault?"""
    listed = s.call("providerAuthCredentials:list", limit=100, **base)["items"]
    setup = attempt(s, base, "providerOAuthSetup:create", providerId=provider["id"], name="setup-d", config={})
    auto = attempt(s, base, "providerAuthCredentials:create", providerId=provider["id"],
                   config={"type": "auto_registration"})
    return {
        "any_is_managed_field": any("isManaged" in c for c in listed),
        "is_default_values": sorted({c.get("isDefault") for c in listed}, key=str),
        "oauth_setup_without_credentials": _status(setup),
        "create_auto_registration_credentials": _status(auto),
        "provider_oauth": provider.get("oauth"),
    }


def main() -> int:
    url = os.environ.get("SUBSPACE_URL") or (sys.argv[1] if len(sys.argv) > 1 else "")
    if not url:
        print("SUBSPACE_URL (or argv[1]) must name the controller's /subspace-controller URL", file=sys.stderr)
        return 2
    s, base = connect(url)
    provider, methods = oauth_provider(s, base)
    report = {
        "engine": {"subspace": ENGINE_COMMIT, "url": url},
        "a_update_client_fields": question_a(s, base, provider),
        "b_archive_delete": question_b(s, base, provider),
        "c_auth_config_credentials_link": question_c(s, base, provider, methods),
        "d_managed_credentials": question_d(s, base, provider),
    }
    print(json.dumps(report, indent=2, sort_keys=True, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
