"""Top-level YAML blocks that act on live objects rather than declare resources: `imports:`
(adopt an object by id), `moved:` (a resource's address changed) and `removed:` (stop
managing without deleting). Pure values; config/directives.py reads them, the live read and
the planner act on them."""

from __future__ import annotations

from metorial_apply.core.errors import Diagnostic
from metorial_apply.core.model import Address, Frozen


class Where(Frozen):
    """Where a block entry was written, so problems found online still point at file:line."""

    file: str | None = None
    line: int | None = None
    path: str = ""  # YAML path, e.g. "imports[0]"

    def problem(self, message: str, hint: str | None = None) -> Diagnostic:
        return Diagnostic(message, file=self.file, line=self.line, path=self.path or None, hint=hint)


class Import(Frozen):
    """`- {to: deployment.github, id: pde_…}`: adopt live object `id` as `to`."""

    to: Address
    id: str
    where: Where = Where()


class Move(Frozen):
    """`- {from: deployment.gh, to: deployment.github}`, chains already followed (`to` is final)."""

    source: Address
    to: Address
    where: Where = Where()


class Removal(Frozen):
    """`- {from: deployment.old}`: forget it (our stamp removed, the object kept)."""

    source: Address
    where: Where = Where()


class Directives(Frozen):
    """Every imports/moved/removed entry of one configuration, in file order."""

    imports: tuple[Import, ...] = ()
    moves: tuple[Move, ...] = ()
    removals: tuple[Removal, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.imports or self.moves or self.removals)

    def rows(self) -> list[list[str]]:
        """Canonical rows, for digests: a changed block changes the desired digest."""
        return ([["import", str(i.to), i.id] for i in self.imports]
                + [["move", str(m.source), str(m.to)] for m in self.moves]
                + [["removed", str(r.source)] for r in self.removals])
