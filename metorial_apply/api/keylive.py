"""The live side of keys: one client per configured key backend, and every backend's key list.

Only backends the configuration names are read (their credentials go nowhere else); a backend
that answers 401 stops the run with its service's message before anything is written.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import AsyncExitStack
from pathlib import Path
from types import TracebackType

from metorial_apply.api.keys import KeyBackendClient, open_key_client
from metorial_apply.api.stats import CallRecord
from metorial_apply.api.waits import WaitBudget
from metorial_apply.core.keys import KeyBackend, LiveKey


class KeyClients:
    """Open clients by backend name. Use as `async with KeyClients(backends, ...) as clients`."""

    def __init__(self, backends: tuple[KeyBackend, ...], *, state_dir: Path | None = None,
                 budget: WaitBudget | None = None, on_call: Callable[[CallRecord], None] | None = None) -> None:
        self.backends = {b.name: b for b in backends}
        self._state_dir, self._budget, self._on_call = state_dir, budget, on_call
        self._stack = AsyncExitStack()
        self.clients: dict[str, KeyBackendClient] = {}

    async def __aenter__(self) -> KeyClients:
        for name, backend in sorted(self.backends.items()):
            client = open_key_client(backend, state_dir=self._state_dir, budget=self._budget, on_call=self._on_call)
            self.clients[name] = await self._stack.enter_async_context(client)
        return self

    async def __aexit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                        tb: TracebackType | None) -> None:
        await self._stack.aclose()

    def __getitem__(self, name: str) -> KeyBackendClient:
        return self.clients[name]

    def types(self) -> dict[str, str]:
        return {name: b.type for name, b in self.backends.items()}

    async def read(self) -> tuple[LiveKey, ...]:
        """Every key of every backend (concurrently), by backend then listing order."""
        names = sorted(self.clients)
        lists = await asyncio.gather(*(self.clients[n].list_keys() for n in names))
        return tuple(key for found in lists for key in found)
