"""Recording apply's and destroy's runs in the stack index (apply/index.py): the open entry before
the first write, the merge after the last, and the refusal to write to a stack that has no index
yet but stamped objects (those move over with `metorial-apply index rebuild`, never silently).
"""

from __future__ import annotations

from metorial_apply.api.ownership import REBUILD
from metorial_apply.apply.index import IndexWriter
from metorial_apply.apply.ledger import Ledger
from metorial_apply.apply.report import ApplyReport
from metorial_apply.apply.schedule import Outcome
from metorial_apply.cli.output import Output
from metorial_apply.cli.session import Session
from metorial_apply.core.errors import MetorialApplyError
from metorial_apply.core.index import StackIndexError
from metorial_apply.core.inert import inert
from metorial_apply.core.kinds import KINDS, METORIAL
from metorial_apply.planning.action import Action
from metorial_apply.planning.plan import Plan

ADOPTING = (Action.IMPORT, Action.TAKEOVER)
# What leaves an object the index does not list yet until the merge: only a run that makes one
# needs an open entry (updates, moves, forgets and deletes act on what it lists already).
UNLISTED = (Action.CREATE, Action.REPLACE, *ADOPTING)


def check_indexed(s: Session) -> None:
    """Refuse to write to a stack read from its stamps alone."""
    stack = s.desired.stack
    if s.read.unindexed():
        raise StackIndexError(
            f"stack {stack!r} has no index yet: its objects are known by their stamps alone, which any key of "
            f"the organization can edit or copy. Run {REBUILD.format(stack=stack)} once (it shows what it claims "
            "and asks), then apply again.")


def writer_for(s: Session) -> IndexWriter:
    if s.lock is None:
        raise MetorialApplyError("the stack index is written only under the stack lock")
    return IndexWriter(s.client, s.lock, s.read.index, s.read.strays, s.index_key)


def needs_open(s: Session, plan: Plan) -> bool:
    """A new stack (its head is made then), or a run that makes objects the index does not list."""
    return s.read.index is None or any(c.action in UNLISTED and KINDS[c.address.kind].api == METORIAL
                                       for c in plan.changes)


async def open_run(s: Session, plan: Plan) -> IndexWriter:
    """Record the run as open before its first write, when it makes anything the index does not
    list; the lock record is then kept until the run's entry is merged (its last renewal bounds
    what the run made)."""
    check_indexed(s)
    writer = writer_for(s)
    assert s.lock is not None
    if needs_open(s, plan):
        s.lock.keep_record = True
        await writer.open(sorted(c.id for c in plan.changes if c.action in ADOPTING and c.id))
    return writer


async def close_run(out: Output, s: Session, writer: IndexWriter, report: ApplyReport) -> bool:
    """Merge what the run wrote into the next generation. A failed change may have left an object
    whose outcome is unknown: the run's entry then stays open for the next run to claim it."""
    assert s.lock is not None
    if s.lock.lost.is_set():
        out.echo("Error: the stack lock was lost; the stack index was not updated. This run's entry stays open "
                 "and the next apply merges what it made.", err=True)
        return False
    keep = any(r.outcome is Outcome.FAILED for r in report.results)
    try:
        await writer.merge(s.read.state, report.ledger, keep_open=keep, kept=s.read.kept)
    except MetorialApplyError as exc:
        out.echo(f"Error: the stack index was not updated: {inert(str(exc))}. This run's entry stays open and "
                 "the next apply merges what it made.", err=True)
        return False
    s.lock.keep_record = keep and writer.ours is not None
    return True


async def tidy(out: Output, s: Session) -> bool:
    """With nothing to change, still merge what killed runs left open and archive stray shards."""
    index = s.read.index
    if index is None or not (index.open or s.read.strays):
        return True
    try:
        await writer_for(s).merge(s.read.state, Ledger(), kept=s.read.kept)
    except MetorialApplyError as exc:
        out.echo(f"Error: the stack index could not be tidied: {inert(str(exc))}", err=True)
        return False
    out.echo(f"Merged {len(index.open)} open run(s) into the stack index." if index.open
             else "Archived stray index records.")
    return True
