"""What the per-kind code (kinds, writes, templates, references, serializers) uses of the
running emulator: its store, its catalog and a few facts per kind.

runtime's `Emulator` provides all of it. Declaring it here, as Protocols, lets the kind registry
import that code while the runtime imports the registry, with no module importing the runtime
back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from .catalog import Catalog
from .store import Store
from .validation import FieldRule


class KindFacts(Protocol):
    """Of a kind's registry entry (kinds.KindSpec): its id prefix, object name and body fields."""

    @property
    def prefix(self) -> str | None: ...

    @property
    def object(self) -> str: ...

    @property
    def fields(self) -> tuple[FieldRule, ...]: ...


class EmulatorState(Protocol):
    """The store and catalog a create, update, lookup or serializer works on, and the registry
    by kind key (read-only here, hence properties: runtime keeps them as plain attributes)."""

    @property
    def store(self) -> Store: ...

    @property
    def catalog(self) -> Catalog: ...

    @property
    def registry(self) -> Mapping[str, KindFacts]: ...
