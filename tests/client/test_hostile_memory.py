"""Peak memory against hostile servers with default settings (issue 21: "peak RSS under 300 MiB
for every hostile-server case"): `plan` through the real CLI in a child process, no budget
variables set, against a Metorial API or a key backend (Metlo, Metal) that sends a
decompression bomb (items 1), listings that never end (item 2: pages of 100,000 realistic
objects, pages as full as the per-response caps allow, pages of few but large objects), or that
trickles or asks for long waits (item 6). Each run ends in one clear error line, in bounded time,
with the child's own peak RSS (wait4) under 300 MiB."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.client.childrun import BACKOFF_S, POLICY, STARTUP_S, Run, cli_child, one_error_line
from tests.client.hostile import Behaviour, HostileServer, rate_limited, trickle
from tests.client.hostile_bodies import (
    AUTH_CONFIG,
    DEPLOYMENT,
    METAL,
    METAL_KEY,
    METLO,
    METLO_KEY,
    METORIAL,
    TEMPLATE,
    empty_catalog,
    endless,
    fitting,
    gzip_bomb,
    large,
)

MAX_RSS_BYTES = 300 * 1024 * 1024
METORIAL_KEY = "metorial_sk_hostile_test_key"
BACKENDS = {
    "metorial": ("stack: hostile\n", {"METORIAL_API_KEY": METORIAL_KEY}),
    "metlo": ('stack: hostile\nkey_backends:\n  metlo: {type: metlo, url: "${env:METLO_URL}", '
              'api_key: "${env:METLO_ADMIN_KEY}"}\napi_keys:\n  ingest: {backend: metlo}\n',
              {"METLO_ADMIN_KEY": "metlo_admin_0123456789abcdef", "METORIAL_APPLY_KEY_URL_VARS": "METLO_URL"}),
    "metal": ('stack: hostile\nkey_backends:\n  metal: {type: metal, url: "${env:METAL_URL}", '
              'client_id: "${env:METAL_CLIENT_ID}", api_key: "${env:METAL_API_KEY}"}\napi_keys:\n'
              '  sync: {backend: metal}\n',
              {"METAL_CLIENT_ID": "client_0123456789", "METAL_API_KEY": "metal_key_0123456789abcdef",
               "METORIAL_APPLY_KEY_URL_VARS": "METAL_URL"}),
}
TOO_LARGE = r"200 response_too_large: the response body is larger than the 16 MiB cap; stopped reading it \(GET .*\)"
LISTING = (r"listing_too_large: the listing passed its budget of {} across pages \(METORIAL_APPLY_MAX_LISTED_OBJECTS, "
           r"METORIAL_APPLY_MAX_LISTED_BYTES\); stopped reading it \(GET /({})\)")
KINDS = "provider-[a-z-]+|session-templates"
FULL = large(DEPLOYMENT, "description", 190)  # 24,455 a page: 16 MiB, just under the value cap too


@dataclass(frozen=True)
class Case:
    target: str  # who is hostile: "metorial" (the API itself), "metlo" or "metal" (a key backend)
    behaviour: Callable[[], Behaviour]
    error: str  # the error line after "Error: ", a regular expression
    flags: tuple[str, ...] = ()
    within_s: float = 30.0


CASES = {
    # Item 1: decompression bombs.
    "gzip-1GiB": Case("metorial", lambda: gzip_bomb(1024), TOO_LARGE),
    "gzip-in-gzip": Case("metorial", lambda: gzip_bomb(2048, layers=2), r"200 encoding_refused: the response is in "
                         r"a content encoding this client does not read \('gzip, gzip'\); not used \(GET /providers\)"),
    "gzip-in-gzip-one-declared": Case("metorial", lambda: gzip_bomb(2048, layers=2, declared=1),
                                      r"200 invalid_response: the API answered with something other than a JSON "
                                      r"object \(GET /providers\)"),
    "metlo-gzip-1GiB": Case("metlo", lambda: gzip_bomb(1024), TOO_LARGE),
    "metal-gzip-in-gzip": Case("metal", lambda: gzip_bomb(2048, layers=2), r"200 encoding_refused: .*"),
    "metal-gzip-in-gzip-one-declared": Case("metal", lambda: gzip_bomb(2048, layers=2, declared=1),
                                            r"200 invalid_response: a key list of an unexpected shape .*"),
    # Item 2: listings that never end.
    "pages-of-100000-deployments": Case("metorial", lambda: endless(METORIAL, DEPLOYMENT, 100_000, empty_catalog),
                                        TOO_LARGE),
    "full-pages-of-deployments": Case("metorial", lambda: endless(METORIAL, FULL, fitting(FULL), empty_catalog),
                                      LISTING.format("200,000 objects", KINDS)),
    "full-pages-of-session-templates": Case("metorial", lambda: endless(
        METORIAL, TEMPLATE, fitting(TEMPLATE), empty_catalog), LISTING.format("128 MiB", KINDS)),
    "full-pages-of-auth-configs": Case("metorial", lambda: endless(
        METORIAL, AUTH_CONFIG, fitting(AUTH_CONFIG), empty_catalog), LISTING.format("128 MiB", KINDS)),
    "pages-of-large-deployments": Case("metorial", lambda: endless(
        METORIAL, large(DEPLOYMENT, "description", 160_000), 100, empty_catalog), LISTING.format("128 MiB", KINDS)),
    "pages-of-large-ids": Case("metorial", lambda: endless(
        METORIAL, large(DEPLOYMENT, "id", 160_000), 100, empty_catalog),
        rf"invalid_response: a page's last id is longer than 1,000 characters \(GET /({KINDS})\)"),
    "metlo-one-list-of-83316-keys": Case("metlo", lambda: endless(METLO, METLO_KEY, fitting(METLO_KEY)),
                                         r"key backend metlo: this plan needs 83317 keys at once \(83316 not ours\) "
                                         r"— Maximum API Key Limit Reached: 50\. .*"),
    "metal-pages-of-100000-keys": Case("metal", lambda: endless(METAL, METAL_KEY, 100_000),
                                       r"200 response_too_many_values: the response's JSON holds more than 500,000 "
                                       r"values; not parsed \(GET .*\)"),
    "metal-full-pages-of-keys": Case("metal", lambda: endless(METAL, METAL_KEY, fitting(METAL_KEY)),
                                     r"invalid_response: a page of 71,414 keys, for a page of at most 100 "
                                     r"\(GET /v1/keys\)"),
    "metal-pages-of-large-keys": Case("metal", lambda: endless(METAL, large(METAL_KEY, "name", 160_000), 100),
                                      LISTING.format("128 MiB", ".*")),
    # Item 6: key backends that trickle or ask for long waits (the issue's --timeout 3 and --max-wait 5).
    "metlo-trickle": Case("metlo", lambda: trickle(every_s=0.2), r"deadline_exceeded: no complete response within "
                          rf"the 3 s deadline \(--timeout\) \(each of {POLICY.max_attempts} attempts\) \(GET .*\)",
                          ("--timeout", "3"), within_s=3 * POLICY.max_attempts + BACKOFF_S),
    "metal-429-retry-after-50": Case("metal", lambda: rate_limited("50"), r"wait_budget_spent: stopped instead of "
                                     r"waiting 50 s more for a rate-limited GET .* budget \(--max-wait\) \(GET .*\)",
                                     ("--max-wait", "5"), within_s=5),
}


def plan_with(case: Case, url: str, tmp: Path) -> Run:
    """`plan` as a child with default limits (childrun clears every METORIAL_* variable), the
    hostile server as the Metorial API or as the configuration's key backend."""
    config, env = BACKENDS[case.target]
    (tmp / "stack.yaml").write_text(config)
    env = env | {"CI": "1", "NO_COLOR": "1", f"{case.target.upper()}_URL": url}
    api = url if case.target == "metorial" else "local"
    keys = ("--secrets-out", str(tmp / "keys.env")) if case.target != "metorial" else ()
    return cli_child(["plan", str(tmp / "stack.yaml"), "--api-url", api, *keys, *case.flags], tmp, env,
                     kill_after_s=case.within_s + 60)


@pytest.mark.parametrize("name", CASES)
def test_a_hostile_server_stops_the_plan_within_300_mib(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    with HostileServer(case.behaviour()) as server:
        run = plan_with(case, server.url, tmp_path)
    line = one_error_line(run)
    print(f"{name}: peak RSS {run.max_rss / 2**20:.0f} MiB, {run.seconds:.1f} s, {server.requests} requests")
    assert run.code == 1
    assert re.fullmatch("Error: " + case.error, line), line
    assert run.seconds < case.within_s + STARTUP_S
    assert run.max_rss < MAX_RSS_BYTES, f"peak RSS {run.max_rss >> 20} MiB"
