"""The key steps around an apply, against the key emulators in-process: new generations before,
old ones after, a lost create answer recovered by name, --secrets-out for unconsumed keys."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from metorial_apply.api.keys import KeyBackendClient, open_key_client
from metorial_apply.api.retry import RetryPolicy
from metorial_apply.apply.keyrun import KeyRunner
from metorial_apply.apply.report import ChangeResult
from metorial_apply.apply.secrets_out import SecretsOut
from metorial_apply.core.keys import DesiredKey, KeyBackend
from metorial_apply.core.model import Address, SecretValue
from metorial_apply.emulator import asgi_transport
from metorial_apply.emulator.keys import KeySettings, bootstrap_credentials, create_key_app, key_emulator_of
from metorial_apply.emulator.keys.runtime import KeyEmulator
from metorial_apply.emulator.keys.service import Credentials
from metorial_apply.planning.keys import KeyInputs, plan_keys

pytestmark = pytest.mark.anyio
VAULT = Address(kind="config_vault", name="v")


class Journal:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, str]] = []

    def change_started(self, address: Address, action: str) -> None:
        self.lines.append(("start", str(address), action))

    def change_finished(self, result: ChangeResult) -> None:
        self.lines.append((result.outcome.value, str(result.address), result.action))


@pytest.fixture
async def metal() -> AsyncIterator[tuple[KeyBackendClient, KeyEmulator]]:
    app = create_key_app(KeySettings(api="metal"))
    creds = bootstrap_credentials("metal")
    backend = KeyBackend(name="metal", type="metal", url="http://127.0.0.1:1", url_from="env:X",
                         api_key=SecretValue(creds["api_key"]), client_id=SecretValue(creds["client_id"]))
    async with open_key_client(backend, transport=asgi_transport(app), retry=RetryPolicy(base_delay_s=0)) as client:
        yield client, key_emulator_of(app)
    key_emulator_of(app).close()


async def plan_for(client: KeyBackendClient, keys: list[DesiredKey], held: dict[str, frozenset[str]],
                   rotate: frozenset[str] = frozenset()):  # type: ignore[no-untyped-def]
    return plan_keys(KeyInputs(stack="prod", desired=tuple(keys), live=tuple(await client.list_keys()),
                               backend_types={"metal": "metal"}, held=held, rotate=rotate))


def names(emulator: KeyEmulator) -> list[str]:
    return sorted(k["name"] for k in emulator.key_views() if k["status"] == "active" and k["name"].startswith("prod"))


async def test_create_then_rotate_new_before_old(metal: tuple[KeyBackendClient, KeyEmulator]) -> None:
    client, emulator = metal
    key = DesiredKey(name="sync", backend="metal", consumers=(VAULT,))
    journal = Journal()
    runner = KeyRunner({"metal": client}, journal=journal)
    assert await runner.before(await plan_for(client, [key], {}))
    first = runner.created["sync"]
    assert names(emulator) == ["prod~sync~1"]
    assert emulator.authenticate(Credentials(runner.parts()["sync"]["secret"], first.key.identity)) is not None
    plan = await plan_for(client, [key], {"sync": frozenset({first.key.identity})}, rotate=frozenset({"sync"}))
    rotating = KeyRunner({"metal": client}, journal=journal)
    assert await rotating.before(plan)
    assert names(emulator) == ["prod~sync~1", "prod~sync~2"]  # both work while consumers move
    assert await rotating.after(plan)
    assert names(emulator) == ["prod~sync~2"]
    assert [line for line in journal.lines if line[0] == "done"] == [
        ("done", "api_key.sync", "create"), ("done", "api_key.sync", "create"), ("done", "api_key.sync", "delete")]
    assert all(first.secret.reveal() not in str(line) for line in journal.lines)


async def test_a_lost_create_answer_ends_with_exactly_one_key(metal: tuple[KeyBackendClient, KeyEmulator]) -> None:
    client, emulator = metal
    emulator.faults.configure({"drop_next": 1})
    runner = KeyRunner({"metal": client})
    assert await runner.before(await plan_for(client, [DesiredKey(name="sync", backend="metal", consumers=(VAULT,))],
                                              {}))
    assert names(emulator) == ["prod~sync~1"]
    made = runner.created["sync"]
    assert emulator.authenticate(Credentials(made.secret.reveal(), made.key.identity)) is not None
    assert "created again" in runner.results[-1].note


async def test_a_consumer_that_failed_holds_its_old_key_back(metal: tuple[KeyBackendClient, KeyEmulator]) -> None:
    client, emulator = metal
    key = DesiredKey(name="sync", backend="metal", consumers=(VAULT,))
    first = KeyRunner({"metal": client})
    await first.before(await plan_for(client, [key], {}))
    plan = await plan_for(client, [key], {"sync": frozenset({first.created["sync"].key.identity})},
                          rotate=frozenset({"sync"}))
    runner = KeyRunner({"metal": client})
    await runner.before(plan)
    assert await runner.after(plan, held_back={"sync"})
    assert names(emulator) == ["prod~sync~1", "prod~sync~2"]


async def test_unconsumed_keys_go_to_secrets_out(metal: tuple[KeyBackendClient, KeyEmulator], tmp_path: Path) -> None:
    client, _ = metal
    with SecretsOut.open(tmp_path / "keys.env") as out:
        runner = KeyRunner({"metal": client}, secrets_out=out, unconsumed=frozenset({"spare"}),
                           backend_types={"metal": "metal"})
        await runner.before(await plan_for(client, [DesiredKey(name="spare", backend="metal"),
                                                    DesiredKey(name="sync", backend="metal", consumers=(VAULT,))], {}))
    text = (tmp_path / "keys.env").read_text()
    assert runner.created["spare"].secret.reveal() in text and runner.created["sync"].secret.reveal() not in text
