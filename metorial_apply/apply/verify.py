"""Verified writes: what the API answered to a create or update, against what was sent. Pure.

A 200 that changed nothing is a failure, never a silent success: the platform's engine drops
fields it does not take on some updates (OAuth credentials keep their client on PATCH) and
answers 200 all the same. The answer goes through the kind's `from_api` and the same projection
the plan compares with (planning/diff.py), so what the API normalises as it always does (filters
returned as `tool_filter`, blank descriptions as null, names trimmed, a template provider's
default config) passes, and only a field that did not take is reported.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from metorial_apply.core.errors import ApiCall, MetorialApplyError
from metorial_apply.core.kinds import CHILD_REFS, ChildSpec, KindSpec, Names, Spec
from metorial_apply.core.model import STAMP_PREFIX, Address, Stamp, spec_hash
from metorial_apply.planning.diff import label, project_live

UNREADABLE: tuple[str, ...] = ()  # `unapplied` of an answer `from_api` cannot read (with `got` empty)


class UnappliedWriteError(MetorialApplyError):
    """The API accepted a write (2xx) but its answer shows a field we sent was not applied."""

    def __init__(self, address: Address, call: ApiCall, action: str, fields: Iterable[str]) -> None:
        self.address, self.call, self.fields = address, call, tuple(fields)
        what = (f"did not apply {', '.join(label(f) for f in self.fields)}" if self.fields
                else "its answer is not an object of that kind, so nothing sent can be confirmed")
        super().__init__(f"{address}: {call.method} {call.path}: the API accepted the {action} but {what}")


def unapplied(kind: KindSpec, sent: Spec, fields: Iterable[str], answer: Mapping[str, Any], names: Names,
              owned: frozenset[Address] = frozenset()) -> tuple[tuple[str, ...], Spec]:
    """The fields of `sent` (a canonical spec) the answer does not hold, as the plan would compare
    them, and the answer as a canonical spec."""
    try:
        got = project_live(kind, sent, kind.from_api(dict(answer), names), owned)
    except (KeyError, TypeError, AttributeError, ValueError):
        return UNREADABLE, {}
    return tuple(f for f in sorted(set(fields)) if f in sent and sent.get(f) != got.get(f)), got


def stamp_missing(sent: Mapping[str, str], answer: Mapping[str, Any]) -> bool:
    """True when a stamp key we sent is absent or different in the answer's metadata."""
    metadata = answer.get("metadata")
    if not isinstance(metadata, dict):
        return bool(sent)
    return any(metadata.get(k) != v for k, v in sent.items() if k.startswith(STAMP_PREFIX))


def applied_stamp(stamp: Stamp, sent: Spec, answer: Spec, missed: Iterable[str], excluded: frozenset[str]) -> Stamp:
    """The stamp of what the API holds: the spec-hash over what was sent, the missed fields taken
    from the answer, so the next plan sees the change still to do (never "No changes")."""
    held = sent | {f: answer.get(f) for f in missed}
    return stamp.model_copy(update={"spec_hash": spec_hash(held, excluded)})


def child_unapplied(child: ChildSpec, item: Spec, fields: Iterable[str], answer: Mapping[str, Any],
                    names: Names) -> tuple[str, ...]:
    """The fields of a sub-resource item (a template provider) its create or update answer does not
    hold, as `providers[KEY].FIELD`; a ref the item leaves unset is the deployment's default."""
    got = child.from_api(dict(answer), names)
    missed = [f for f in sorted(set(fields)) if item.get(f) != got.get(f)
              and not (f in CHILD_REFS and item.get(f) is None)]
    return tuple(f"{child.field}[{item.get(child.key)}].{label(f)}" for f in missed)
