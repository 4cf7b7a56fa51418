"""fetch_catalog against a mocked API: call count, schema envelope, auth-method fallback."""

from __future__ import annotations

from typing import Any

import pytest
import respx

from metorial_apply.api.catalog import fetch_catalog
from tests.client.conftest import page

pytestmark = pytest.mark.anyio

SCHEMA = {"type": "object", "properties": {"token": {"type": "string"}}}


def provider(n: int, current: bool = True) -> dict[str, Any]:
    return {"id": f"pro_{n}", "slug": f"p{n}", "identifier": f"ident-{n}", "name": f"P{n}",
            "current_version": {"id": f"prv_{n}b", "version": "2.0"} if current else None}


async def test_catalog_shapes_and_call_count(api: respx.MockRouter, make_client: Any) -> None:
    api.get("/providers").mock(return_value=page([provider(2), provider(1), provider(3, current=False)], False))
    api.get("/provider-versions").mock(side_effect=lambda request: page(
        [{"id": request.url.params["provider_id"].replace("pro", "prv") + s, "version": v}
         for s, v in (("a", "1.0"), ("b", "2.0"))], False))
    api.get("/provider-specifications").mock(
        side_effect=lambda request: page(
            [
                {
                    "id": "psp",
                    "config_schema": {"type": "json_schema", "schema": SCHEMA}
                    if request.url.params["provider_version_id"] == "prv_1b"
                    else SCHEMA,
                    "auth_methods": [{"id": "pam_1", "key": "oauth"}]
                    if request.url.params["provider_version_id"] == "prv_1b"
                    else None,
                }
            ],
            False,
        )
    )
    methods = api.get("/provider-auth-methods").mock(return_value=page([{"id": "pam_2", "key": "token"}], False))
    async with make_client() as client:
        catalog = await fetch_catalog(client)
        assert client.stats.calls == 1 + 3 + 2 + 1  # providers, versions each, specs for current, one fallback
    assert [p.slug for p in catalog.providers] == ["p1", "p2", "p3"]
    p1, p2, p3 = catalog.providers
    assert p1.versions == {"1.0": "prv_1a", "2.0": "prv_1b"} and p1.current_version_id == "prv_1b"
    assert p1.auth_methods == {"oauth": "pam_1"} and p1.config_schema == SCHEMA
    assert p2.auth_methods == {"token": "pam_2"} and p2.config_schema == SCHEMA
    assert p3.current_version_id is None and p3.auth_methods == {} and p3.config_schema is None
    assert methods.calls.last.request.url.params["provider_version_id"] == "prv_2b"
