"""The plan: an immutable, ordered list of changes from live to desired. Pure: no I/O."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import ConfigDict, Field

from metorial_apply.core.errors import PlanError
from metorial_apply.core.fingerprint import FingerprintKey, check_key
from metorial_apply.core.kinds import KINDS, KindSpec, refs_of, sort_key
from metorial_apply.core.model import Address, Frozen, Resource
from metorial_apply.core.state import State
from metorial_apply.core.suggest import unknown_addresses
from metorial_apply.planning import replace as forced_replace
from metorial_apply.planning.action import Action, ChildChange, FieldDiff, Note
from metorial_apply.planning.adoption import check_adoptions, check_takeovers, imported_secret, lookalike_notes
from metorial_apply.planning.change import Change
from metorial_apply.planning.diff import Comparison, compare, ignored_note, label, redacted_view, secret_diff
from metorial_apply.planning.graph import check_acyclic, closure, edges, execution_order
from metorial_apply.planning.inputs import PlanInputs
from metorial_apply.planning.keys import key_inputs, settle
from metorial_apply.planning.recorded import key_fingerprints

__all__ = ["FORMAT_VERSION", "Action", "Change", "ChildChange", "FieldDiff", "Note", "Plan", "build_plan"]

# 2: import, takeover, move, forget and rotate actions; `moved_from`; api keys.
# 3: api key changes ordered with every other change by dependency (one graph).
FORMAT_VERSION = 3


class Plan(Frozen):
    """Every change for one stack, in a valid execution order (noops included, for display).

    `live_fingerprints` (address → digest of the live object read) and `desired_digest` let a
    saved plan be checked for staleness before it is applied.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    format_version: int = FORMAT_VERSION
    stack: str
    changes: tuple[Change, ...] = ()
    live_fingerprints: dict[str, str] = Field(default_factory=dict)
    desired_digest: str = ""
    config_path: str | None = None  # the config path as given to plan (display)
    inputs: PlanInputs | None = None  # set for a saved plan: what `apply plan.json` reloads
    notes: tuple[Note, ...] = ()  # sorted by address

    def actionable(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.NOOP)

    def counts(self) -> dict[Action, int]:
        return {a: sum(1 for c in self.changes if c.action is a) for a in Action}

    @property
    def destructive(self) -> bool:
        return any(c.destructive for c in self.changes)


# -- building a plan -----------------------------------------------------------------------
# Pairing is by address. Top-level replaces are always create-first (create the new object,
# repoint dependents, delete the old; graph.edges says so): names are not unique in this API,
# so no name collision ever forces delete-first. Sub-resources whose identity is their parent plus a key (template
# providers: template + deployment) are the exception: two must never coexist, so they are
# re-created delete-first inside their parent's update (see ChildChange).


def _refs(state: State) -> dict[Address, frozenset[Address]]:
    return {r.address: refs_of(r) for r in state}


def _needs_replace(kind: KindSpec, c: Comparison) -> bool:
    return bool(c.create_only) or (c.secret_changed and not kind.secret_patchable)


def _replace_reason(kind: KindSpec, c: Comparison) -> str:
    parts = []
    if c.secret_changed and not kind.secret_patchable:
        parts.append(f"{secret_diff(kind).field} changed (secret)")
    if c.create_only:
        names = ", ".join(label(f) for f in c.create_only)
        parts.append(f"{names} {'is' if len(c.create_only) == 1 else 'are'} create-only")
    return "; ".join(parts)


def _cascade(want: dict[Address, Resource], pairs: dict[Address, Comparison],
             forced: frozenset[Address]) -> dict[Address, str]:
    """Address → reason for every replace (`forced`: asked for with --replace), including
    dependents whose create-only ref points at something replaced (the new object gets a new
    id, which they cannot be repointed to)."""
    reasons = {a: _replace_reason(KINDS[a.kind], c) for a, c in pairs.items() if _needs_replace(KINDS[a.kind], c)}
    reasons |= {a: forced_replace.with_requested(reasons.get(a, "")) for a in forced}
    for _ in range(len(pairs) + 1):  # each pass adds at least one, or stops
        added = False
        for a in sorted(pairs.keys() - reasons.keys(), key=sort_key):
            kind = KINDS[a.kind]
            hits = [(f, ref) for f, ref in kind.references(want[a].spec) if f in kind.create_only and ref in reasons]
            if hits:
                f, ref = hits[0]
                reasons[a] = f"{ref} is replaced ({label(f)} is create-only)"
                added = True
        if not added:
            break
    return reasons


def check_bound(replaced: dict[Address, str], have: dict[Address, Resource], bound: Mapping[str, tuple[str, ...]]
                ) -> None:
    """A replace deletes the old object; objects the platform bound to it (KindSpec.bound_by)
    cannot move to the new one, so the plan refuses and says how to do it by hand."""
    stuck = [a for a in sorted(replaced, key=sort_key) if have[a].id in bound]
    if not stuck:
        return
    lines = []
    for a in stuck:
        kind, ids = KINDS[a.kind], bound[have[a].id or ""]
        other = kind.bound_by[0].replace("_", " ") if kind.bound_by else "object"
        lines.append(f"{a} ({have[a].id}) would be replaced ({replaced[a]}), but the platform bound "
                     f"{len(ids)} {other}{'s' if len(ids) != 1 else ''} to it that cannot move to a new one: "
                     f"{', '.join(ids)}")
    raise PlanError("; ".join(lines) + ". Rotate by hand: declare the new one under another name, bind what is "
                    "bound to the new one in the dashboard (for OAuth credentials: run the OAuth setup again with "
                    "them), then remove the old one from the configuration")


def _update_reason(kind: KindSpec, c: Comparison) -> str:
    if not c.fields and c.children and all(ch.reason.startswith("repoint") for ch in c.children):
        return "; ".join(sorted({ch.reason for ch in c.children}))
    parts = [label(f) for f in c.fields] + ([kind.children.field] if c.children and kind.children else [])
    text = ", ".join(parts) + " changed" if parts else ""
    if c.secret_changed:
        text = "; ".join(x for x in (text, f"{secret_diff(kind).field} changed (secret)") if x)
    if c.drift:
        return (
            "changed outside metorial-apply" if not c.config_changed else f"{text}; also changed outside metorial-apply"
        )
    return text


def _cascade_diffs(kind: KindSpec, spec: dict[str, Any], replaced: dict[Address, str]) -> tuple[FieldDiff, ...]:
    return tuple(FieldDiff(field=label(f), before=f"{ref.name} (old)", after=f"{ref.name} (new)")
                 for f, ref in kind.references(spec) if f in kind.create_only and ref in replaced)


def _paired(a: Address, d: Resource, lv: Resource, c: Comparison, replaced: dict[Address, str]) -> Change:
    kind = KINDS[a.kind]
    secret_fields = kind.secret_fields if c.secret_changed else ()
    common: dict[str, Any] = {
        "address": a,
        "id": lv.id,
        "protect": d.protect,
        "desired": d,
        "live": lv,
        "drift": c.drift and bool(c.fields or c.children),
        "fields": tuple(c.fields) + tuple(secret_fields),
    }
    if lv.adoption is not None and a not in replaced:
        return _adopted(kind, lv, c, common)
    if not c.changed and a not in replaced:
        return Change(action=Action.NOOP, reason="up to date", **common | {"drift": False, "fields": ()})
    common |= {
        "before": redacted_view(kind, c.live_spec, d.sensitive | lv.sensitive,
                                bool(lv.stamp and lv.stamp.secret_fingerprint)),
        "after": redacted_view(kind, d.spec, d.sensitive, d.secret is not None),
    }
    if a in replaced:
        diffs = c.diffs or _cascade_diffs(kind, d.spec, replaced)
        return Change(action=Action.REPLACE, reason=replaced[a], diffs=diffs, **common)
    return Change(action=Action.UPDATE, reason=_update_reason(kind, c), diffs=c.diffs, children=c.children, **common)


def _single(a: Address, d: Resource | None, lv: Resource | None, removed: frozenset[Address],
            requested: frozenset[Address]) -> Change:
    kind = KINDS[a.kind]
    if lv is not None and a in removed:
        return Change(action=Action.FORGET, address=a, reason="removed: stop managing it, keep the object", id=lv.id,
                      live=lv, fields=("metadata",), before=redacted_view(kind, lv.spec, lv.sensitive, False))
    if d is not None:
        reason = forced_replace.NOTHING_LIVE if a in requested else "not in live state"
        return Change(action=Action.CREATE, address=a, reason=reason, protect=d.protect, desired=d,
                      after=redacted_view(kind, d.spec, d.sensitive, d.secret is not None))
    assert lv is not None
    reason = "not in config"
    if lv.stamp is not None and lv.stamp.address != str(a):
        reason = f"duplicate of {lv.stamp.address}"
    return Change(action=Action.DELETE, address=a, reason=reason, id=lv.id, protect=lv.protect, live=lv,
                  before=redacted_view(kind, lv.spec, lv.sensitive, bool(lv.stamp and lv.stamp.secret_fingerprint)))


# -- adoption: import, takeover, move, forget -----------------------------------------------
# An adopted object (live.adoption set by the live read) pairs with its desired resource like
# any other; its change is the adoption itself (stamp written by one PATCH) plus the field
# updates that make it match the YAML, in the same PATCH.

# "restore": an object the stack's index lists whose stamp was removed or changed by hand: still
# ours, so an update writes the stamp back (never a create, a replace or a delete).
ADOPTED = {"import": Action.IMPORT, "takeover": Action.TAKEOVER, "move": Action.MOVE, "restore": Action.UPDATE}


def _adopted(kind: KindSpec, lv: Resource, c: Comparison, common: dict[str, Any]) -> Change:
    assert lv.adoption is not None
    d = common["desired"]
    action = ADOPTED[lv.adoption.action]
    head = {Action.IMPORT: f"adopt {lv.id}", Action.TAKEOVER: f"take over {lv.id} from stack {lv.adoption.other!r}",
            Action.MOVE: f"moved from {lv.adoption.other}",
            Action.UPDATE: f"ownership stamp {lv.adoption.other} outside metorial-apply (will be restored)"}[action]
    what = _update_reason(kind, c) if c.changed else ""
    extra = {
        "before": redacted_view(kind, c.live_spec, d.sensitive | lv.sensitive, False),
        "after": redacted_view(kind, d.spec, d.sensitive, d.secret is not None),
        "moved_from": Address.parse(lv.adoption.other) if action is Action.MOVE else None,
        "drift": False,
    }
    return Change(action=action, reason=head + (f"; {what}" if what else ""), diffs=c.diffs, children=c.children,
                  **common | extra)


def _compared(r: Resource, forced: frozenset[Address]) -> Resource:
    """What is compared of a desired resource: no secret when its replace is forced (the new
    object gets the value anyway, and the old fingerprint may be uncomparable) or ignored."""
    if r.secret is not None and (r.address in forced or r.ignore & set(KINDS[r.address.kind].secret_fields)):
        return r.model_copy(update={"secret": None})
    return r


def _compare_all(want: dict[Address, Resource], have: dict[Address, Resource],
                 replaced: frozenset[Address], key: FingerprintKey | None) -> dict[Address, Comparison]:
    owned = frozenset(have)
    both = want.keys() & have.keys()
    # One error naming every resource whose keyed fingerprint cannot be checked, before any compare.
    check_key((have[a].stamp for a in both if want[a].secret is not None), key)
    moved = {a: Address.parse(r.adoption.other) for a, r in have.items() if r.adoption and r.adoption.action == "move"}
    return {a: compare(KINDS[a.kind], want[a], have[a], replaced, owned, key, moved) for a in both}


def _notes(want: dict[Address, Resource], pairs: dict[Address, Comparison]) -> list[Note]:
    """Each resource's `ignore:` once, then what its comparison could not do, by address."""
    ignored = {a: [ignored_note(r)] for a, r in want.items() if r.ignore}
    return [Note(address=a, text=t) for a in sorted(pairs.keys() | ignored.keys(), key=sort_key)
            for t in ignored.get(a, []) + list(pairs[a].notes if a in pairs else ())]


def _changes(desired: State, live: State, refs: dict[Address, frozenset[Address]], key: FingerprintKey | None,
             requested: tuple[Address, ...]) -> tuple[dict[Address, Change], list[Note]]:
    want, have = desired.by_address(), live.by_address()
    forced = forced_replace.forced(requested, want, have)
    pairs = {a: imported_secret(KINDS[a.kind], want[a], have[a], c)
             for a, c in _compare_all({a: _compared(r, forced) for a, r in want.items()}, have, frozenset(),
                                      key).items()}
    notes = _notes(want, pairs)
    replaced = _cascade(want, pairs, forced)
    check_bound(replaced, have, live.bound)
    if replaced:  # children that point at a replaced address must be repointed
        gone, owned = frozenset(replaced), frozenset(have)
        pairs |= {a: compare(KINDS[a.kind], _compared(want[a], forced), have[a], gone, owned, key)
                  for a in pairs if KINDS[a.kind].children and refs[a] & gone}
    check_adoptions(have, replaced)
    out = {a: _paired(a, want[a], have[a], c, replaced) for a, c in pairs.items()}
    removed = frozenset(r.source for r in desired.directives.removals)
    for a in want.keys() ^ have.keys():
        out[a] = _single(a, want.get(a), have.get(a), removed, frozenset(requested))
    return out, notes


def _with_edges(changes: dict[Address, Change], desired_refs: dict[Address, frozenset[Address]],
                live: State) -> list[Change]:
    actions = {a: c.action for a, c in changes.items()}
    preset = {a: c.replace_mode for a, c in changes.items() if c.replace_mode is not None}
    ordering = edges(actions, desired_refs, _refs(live), preset)
    out = []
    for a in execution_order(actions, ordering.depends_on):
        c = changes[a]
        if a not in ordering.depends_on:
            out.append(c)
            continue
        after = ordering.delete_after.get(a, ())
        extra: dict[str, Any] = {"depends_on": ordering.depends_on[a], "delete_after": after,
                                 "replace_mode": ordering.replace_mode.get(a)}
        users = sum(1 for y in after if actions[y] is not Action.DELETE)
        if c.action is Action.REPLACE and users:
            extra["reason"] = (
                f"{c.reason}: create new, repoint {users} dependent{'s' if users != 1 else ''}, delete old"
            )
        out.append(c.model_copy(update=extra))
    return out


def _archives(c: Change, users: Mapping[str, tuple[str, ...]]) -> Change:
    """The platform archives the template providers using a deleted auth config (emulator/choices.py,
    Cascades). Ours let go first (graph.py); those of templates outside the stack are lost, so the
    delete (or a replace's delete of the old one) says so."""
    ids = users.get(c.id or "", ()) if c.action in (Action.DELETE, Action.REPLACE) else ()
    if not ids:
        return c
    shown = ", ".join(ids[:MAX_SHOWN]) + (f" and {len(ids) - MAX_SHOWN} more" if len(ids) > MAX_SHOWN else "")
    which = "deleting it" if c.action is Action.DELETE else "deleting the old one"
    plural = "s" if len(ids) != 1 else ""
    text = f"{which} archives its providers in {len(ids)} session template{plural} outside this stack: {shown}"
    return c.model_copy(update={"reason": f"{c.reason}; {text}"})


MAX_SHOWN = 5  # template ids named in a delete's reason


def _targeted(changes: list[Change], targets: tuple[Address, ...], known: set[Address]) -> list[Change]:
    missing = [str(t) for t in targets if t not in known]
    if missing:
        raise PlanError(unknown_addresses("--target", missing, (str(a) for a in known)))
    index = {c.address: c for c in changes}
    keep = closure(targets, lambda a: (*index[a].depends_on, *index[a].delete_after) if a in index else ())
    return [c for c in changes if c.address in keep]


def build_plan(desired: State, live: State, *, targets: Iterable[Address | str] = (),
               key: FingerprintKey | None = None, takeover: bool = False,
               unmanaged: Mapping[tuple[str, str], tuple[str, ...]] | None = None,
               replace: Iterable[Address | str] = (), rotate: Iterable[str] = (), now: float = 0.0) -> Plan:
    """Diff desired against live into an ordered, immutable plan. Pure.

    `targets` limits the plan to those addresses, what they depend on, and the dependents a
    replace or delete of theirs forces (without those the old object could not be removed).
    `key` compares keyed (hmac) secret fingerprints; without it they raise PlanError.
    `takeover` allows imports of objects another stack claims; `unmanaged` ((kind, name) → ids of
    unstamped live objects) gives creates their look-alike notes.
    `replace` forces a replace of those addresses (`--replace`, see planning/replace.py);
    `rotate` names api keys to rotate (`--rotate`) and `now` is the clock their `rotate_after` reads."""
    refs = _refs(desired)
    check_acyclic(refs)
    requested = tuple(a if isinstance(a, Address) else Address.parse(a) for a in replace)
    def diff(bound: State) -> tuple[dict[Address, Change], list[Note]]:
        return _changes(bound, live, refs, key, requested)

    # Keys are planned with their consumers when the backends were read (live.keys is set).
    changes, notes = diff(desired) if live.keys is None else settle(
        desired, key_inputs(desired, live, rotate, now), diff)
    check_takeovers(changes.values(), desired, takeover)
    notes = sorted([*notes, *lookalike_notes(changes.values(), unmanaged or {})], key=lambda n: sort_key(n.address))
    ordered = [_archives(c, live.template_users) for c in _with_edges(changes, refs, live)]
    wanted = tuple(t if isinstance(t, Address) else Address.parse(t) for t in targets)
    if wanted:
        known = set(changes)  # every address of config or live state, api keys included
        ordered = _targeted(ordered, wanted, known)
        forced_replace.outside_targets(requested, {c.address for c in ordered})
        notes = [n for n in notes if n.address in {c.address for c in ordered}]
    return Plan(stack=desired.stack, changes=tuple(ordered), notes=tuple(notes),
                live_fingerprints=live_fingerprints(live))


def live_fingerprints(live: State) -> dict[str, str]:
    """Address → fingerprint of every live resource read, and per api key of ours its generations
    (planning/recorded.py): a key created, deleted or re-created since makes a saved plan stale."""
    return {str(r.address): r.fingerprint or "" for r in live} | key_fingerprints(live)
