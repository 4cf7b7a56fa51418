"""Executing one step of the execution graph, generically over KINDS, on the API its kind belongs to.

Metorial creates carry the full ownership stamp in the same call, so a resource never exists
without it; updates PATCH only the changed patchable fields plus metadata sent whole; deletes
treat 404/410 as already done. An api key's create makes its next generation on its backend
(the one-time secret kept in memory, in the run's KeyRing, for the consumers' values); its
delete step removes its earlier generations. A create whose outcome is unknown is resolved by
`calls.recover_create`, for every kind.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from dataclasses import dataclass, field
from typing import Any

from metorial_apply.apply.calls import ApiClient, delete_quietly, key_landing, recover_create, stamped_landing
from metorial_apply.apply.children import child_changes, run_child_changes
from metorial_apply.apply.ids import IdMap, KeyRing
from metorial_apply.apply.ledger import Ledger
from metorial_apply.apply.steps import Step
from metorial_apply.apply.verify import UnappliedWriteError, applied_stamp, stamp_missing, unapplied
from metorial_apply.core.errors import ApiCall, ApiError, OutcomeUnknownError
from metorial_apply.core.fingerprint import FingerprintKey, background_pool, new_salt, stamp_for
from metorial_apply.core.keys import DEFAULT_KEY_TYPE, keys_in
from metorial_apply.core.kinds import KEY_BACKEND, KINDS, PATCH_KEYS, KindSpec, create_body, patch_body
from metorial_apply.core.model import Address, Resource, Stamp
from metorial_apply.planning.plan import Action, Change


@dataclass(frozen=True)
class StepDone:
    """What a finished step did: the id it created, updated or deleted, and a note for the report."""

    id: str | None
    note: str = ""  # e.g. "adopted after a lost response", "already gone"


@dataclass
class Executor:
    client: ApiClient
    ids: IdMap
    stack: str
    ready: dict[Address, asyncio.Future[Stamp]] = field(default_factory=dict)  # stamps computed ahead
    pool: ThreadPoolExecutor | None = None  # their threads (None: the loop's default executor)
    key: FingerprintKey | None = field(default=None, repr=False)  # keyed (hmac) stamps when set
    keys: KeyRing = field(default_factory=KeyRing)  # the key backends, and the keys made this run
    run_id: str | None = None  # the run id every stamp written carries (the stack index's open entry)
    ledger: Ledger = field(default_factory=Ledger)  # what was written, for the index's next generation

    def sent_secret(self, resource: Resource) -> Any:
        """The write-only value a create or update sends; a key consumer's is filled with the
        secrets of the key generations this run created (the graph ran those first)."""
        if resource.secret is None:
            return None
        return self.keys.filled(resource).reveal() if keys_in(resource.secret) else resource.secret.reveal()

    def prepare(self, steps: list[Step], threads: int = 2) -> None:
        """Start computing the stamps of secret-holding creates and updates in low-priority
        background threads, so their scrypt cost overlaps API waits; `gate` keeps a step out
        of the parallelism slots until its stamp is ready, so no slot idles on a fingerprint."""
        self.pool = background_pool(threads)
        for step in steps:
            resource = step.change.desired
            # A consumer of a key created in this run is stamped once its key exists.
            if step.phase == "up" and resource is not None and resource.secret is not None \
                    and not (step.action == "update" and _secret_ignored(resource)) and self.keys.bindable(resource):
                reuse = _reusable_stamp(step.change) if step.action == "update" else None
                self.ready[resource.address] = asyncio.ensure_future(self.stamp(resource, reuse))

    def gate(self, step: Step) -> asyncio.Future[Stamp] | None:
        """What `step` waits for before it may take a parallelism slot (its stamp, if pending)."""
        return self.ready.get(step.address) if step.phase == "up" else None

    def discard(self) -> None:
        for future in self.ready.values():
            future.cancel()
        if self.pool is not None:
            self.pool.shutdown(wait=False, cancel_futures=True)
            self.pool = None

    async def run(self, step: Step) -> StepDone:
        """Do the API work of one step, on the API its kind belongs to."""
        if KINDS[step.address.kind].api == KEY_BACKEND:
            return await (self.retire_keys(step) if step.phase == "down" else self.create_key(step))
        if step.phase == "down":
            return await self.delete(step)
        if step.action == "create":
            return await self.create(step)
        if step.action == "forget":
            return await self.forget(step)
        return await self.update(step)

    async def stamp(self, resource: Resource, reuse: Stamp | None = None) -> Stamp:
        """A fresh stamp; a key consumer's fingerprints its value bound to the identities of the
        key generations it holds, and records them."""
        if not keys_in(resource.secret):
            return self._ran(await self._stamp(resource, reuse))
        bound, held = self.keys.bound(resource)
        return self._ran((await self._stamp(bound, reuse)).model_copy(update={"keys": held}))

    def _ran(self, stamp: Stamp) -> Stamp:
        return stamp.model_copy(update={"run": self.run_id}) if self.run_id else stamp

    async def _stamp(self, resource: Resource, reuse: Stamp | None = None) -> Stamp:
        """The live salt is kept when the secret did not change (the fingerprint then stays
        stable); a changed or new secret gets a fresh salt."""
        if resource.secret is None:
            return stamp_for(resource, self.stack, None)
        salt = reuse.secret_salt if reuse and reuse.secret_salt else new_salt()
        if self.key is not None:  # hmac costs microseconds: no thread needed
            return stamp_for(resource, self.stack, salt, self.key)
        # scrypt is deliberately slow; hashlib releases the GIL, so a thread keeps the loop free.
        return await asyncio.get_running_loop().run_in_executor(self.pool, stamp_for, resource, self.stack, salt)

    async def create(self, step: Step) -> StepDone:
        resource = _desired(step.change)
        kind = KINDS[resource.address.kind]
        pending = self.ready.pop(resource.address, None)
        ours = await pending if pending is not None else await self.stamp(resource)
        stamp = ours.to_metadata()
        metadata = dict(resource.spec.get("metadata") or {}) | stamp
        secret = self.sent_secret(resource)
        body = create_body(kind, resource.spec, secret, metadata, self.ids)
        note = ""
        try:
            obj = await self.client.create(kind.path, body, kind=kind.kind, name=resource.address.name, stamp=stamp)
        except OutcomeUnknownError:
            old = {i for i in (step.change.id, step.change.live.id if step.change.live else None) if i}
            obj, note = await recover_create(stamped_landing(self.client, kind, resource.address, self.stack, body,
                                                             stamp, old))
        self.ids.record(resource.address, obj["id"], replaced=step.change.action is Action.REPLACE)
        self.ledger.wrote(obj["id"], ours)
        await self.verified(resource, obj, resource.spec, set(resource.spec), stamp, ApiCall("POST", kind.path))
        return StepDone(obj["id"], note)

    async def update(self, step: Step) -> StepDone:
        change = step.change
        resource = _desired(change)
        kind = KINDS[resource.address.kind]
        id = self.ids.id_of(resource.address)
        if kind.children:
            await self.update_children(kind, change, id)
        fields = _changed_fields(kind, change)
        secret_changed = _secret_changed(kind, change, fields) and not _secret_ignored(resource)
        stamp = await self.update_stamp(change, resource)
        sendable = secret_changed and kind.secret_patchable and resource.secret is not None
        secret = self.sent_secret(resource) if sendable else None  # no fill for a value the API keeps
        user = _user_metadata(change, resource)
        body = patch_body(kind, resource.spec, frozenset(fields), secret, user | stamp.to_metadata(), self.ids)
        answer = await self.client.update(kind.path, id, body, kind=kind.kind, name=resource.address.name)
        self.ledger.wrote(id, stamp)
        sent = ((fields | kind.patch_always) & kind.patchable) | {"metadata"}
        await self.verified(resource, answer, resource.spec | {"metadata": user}, sent, stamp.to_metadata(),
                            ApiCall("PATCH", f"{kind.path}/{id}"))
        return StepDone(id)

    async def verified(self, resource: Resource, answer: dict[str, Any], sent: dict[str, Any], fields: set[str],
                       stamp: dict[str, str], call: ApiCall) -> None:
        """A write is verified, not assumed: fail the change when its answer does not hold a field
        sent (or our stamp), after re-stamping with what the API holds, so the next plan shows
        the change still to do."""
        kind = KINDS[resource.address.kind]
        missed, got = unapplied(kind, sent, fields, answer, self.ids, frozenset(self.ids.ids))
        if not got:  # an answer that is no object of this kind confirms nothing
            raise UnappliedWriteError(resource.address, call, _verb(call), ())
        missed += ("metadata",) if stamp_missing(stamp, answer) and "metadata" not in missed else ()
        if not missed:
            return
        id = str(answer.get("id") or self.ids.id_of(resource.address))
        ours = Stamp.split(stamp)[1]
        assert ours is not None  # we built it
        held = applied_stamp(ours, sent, got, missed, resource.sensitive | resource.ignore)
        with suppress(ApiError):  # the failure below is what matters; the next plan re-reads anyway
            body = metadata_patch(kind, got, dict(sent.get("metadata") or {}) | held.to_metadata())
            await self.client.update(kind.path, id, body, kind=kind.kind, name=resource.address.name)
        self.ledger.wrote(id, held)  # the index holds what the API holds, whether the re-stamp landed or not
        raise UnappliedWriteError(resource.address, call, _verb(call), missed)

    async def update_stamp(self, change: Change, resource: Resource) -> Stamp:
        """An update's stamp; an ignored secret is never sent on update, so its stamp keeps the
        live fingerprint (what was last sent) rather than claim the YAML value is live."""
        if _secret_ignored(resource):
            unsent = stamp_for(resource.model_copy(update={"secret": None}), self.stack, None)
            return self._ran(_kept_fingerprint(unsent, change.live.stamp if change.live else None))
        pending = self.ready.pop(resource.address, None)
        return await pending if pending is not None else await self.stamp(resource, _reusable_stamp(change))

    async def update_children(self, kind: KindSpec, change: Change, parent_id: str) -> None:
        todo = child_changes(kind, change, self.ids)
        await run_child_changes(self.client, kind, change.address, parent_id, todo, self.ids)

    async def forget(self, step: Step) -> StepDone:
        """One PATCH of metadata without our keys (PATCH replaces metadata wholesale, so the
        user's keys are sent back as they were read); the object stays."""
        change = step.change
        if change.live is None or change.id is None:
            raise ValueError(f"{change.address}: a forget needs the live resource")
        kind = KINDS[change.address.kind]
        user = dict(change.live.spec.get("metadata") or {})
        body = metadata_patch(kind, change.live.spec, user)
        await self.client.update(kind.path, change.id, body, kind=kind.kind, name=change.address.name)
        self.ledger.remove(change.id)
        return StepDone(change.id, "stamp removed; the object stays")

    async def create_key(self, step: Step) -> StepDone:
        """The next generation of an api key, on its backend; a lost answer is resolved like any
        other kind's create (calls.key_landing)."""
        spec = _desired(step.change).spec
        client = self.keys.client(spec["backend"])
        try:
            made, note = await client.create_key(spec["name"], spec.get("key_for")), ""
        except OutcomeUnknownError:
            made, note = await recover_create(key_landing(client, spec["name"], spec.get("key_for"),
                                                          KINDS[step.address.kind].adoptable))
        self.keys.record(step.address.name, made)
        self.ledger.keys_made[made.key.name] = made.key
        missed = ["name"] if made.key.name != spec["name"] else []
        # Metlo answers with the type it made (`for`); Metal keys have none to check.
        if made.key.key_for is not None and made.key.key_for != (spec.get("key_for") or DEFAULT_KEY_TYPE):
            missed.append("key_for")
        if missed:  # the key exists, but not as asked: its consumers must not get it
            raise UnappliedWriteError(step.address, ApiCall("POST", spec["backend"]), "create", missed)
        return StepDone(made.key.identity, note or spec["name"])

    async def retire_keys(self, step: Step) -> StepDone:
        """Delete every earlier generation the change lets go of (each attempted; the first
        failure is raised after the rest were tried)."""
        try:
            return StepDone(*await self.keys.delete(step.change.old))
        finally:
            self.ledger.keys_deleted |= self.keys.gone

    async def delete(self, step: Step) -> StepDone:
        change = step.change
        kind = KINDS[change.address.kind]
        id = change.id or (change.live.id if change.live else None)
        if id is None:
            return StepDone(None, "nothing to delete")
        note = await delete_quietly(self.client, kind.path, id, kind=kind.kind, name=change.address.name)
        self.ledger.remove(id)
        return StepDone(id, note)


def _verb(call: ApiCall) -> str:
    return "create" if call.method == "POST" else "update"


def metadata_patch(kind: KindSpec, spec: dict[str, Any], metadata: dict[str, Any]) -> dict[str, Any]:
    """A PATCH of metadata only, carrying the kind's `patch_always` fields as `spec` holds them
    (a canonical spec's filters are the API's rules), so it changes nothing else."""
    kept = {key: spec[f] for f in sorted(kind.patch_always) for key in PATCH_KEYS.get(f, ()) if f in spec}
    return kept | {"metadata": metadata}


def _desired(change: Change) -> Resource:
    if change.desired is None:
        raise ValueError(f"{change.address}: a {change.action.value} needs the desired resource")
    return change.desired


def _secret_ignored(resource: Resource) -> bool:
    return bool(resource.ignore & set(KINDS[resource.address.kind].secret_fields))


def _kept_fingerprint(stamp: Stamp, live: Stamp | None) -> Stamp:
    if live is None:
        return stamp
    return stamp.model_copy(update={"secret_fingerprint": live.secret_fingerprint, "secret_salt": live.secret_salt,
                                    "secret_keys": live.secret_keys})


def _user_metadata(change: Change, resource: Resource) -> dict[str, object]:
    """The user metadata an update sends (PATCH replaces it whole): the live one when `ignore:`
    leaves metadata to the dashboard, else the YAML's."""
    source = change.live if "metadata" in resource.ignore and change.live is not None else resource
    return dict(source.spec.get("metadata") or {})


def _secret_changed(kind: KindSpec, change: Change, fields: set[str]) -> bool:
    return bool(set(kind.secret_fields) & fields) or any(d.secret for d in change.diffs)


def _reusable_stamp(change: Change) -> Stamp | None:
    """The live stamp whose salt an update keeps: only while the secret is unchanged, so its
    fingerprint stays stable (a changed secret gets a fresh salt)."""
    kind = KINDS[change.address.kind]
    if _secret_changed(kind, change, _changed_fields(kind, change)) or change.live is None:
        return None
    return change.live.stamp


def _changed_fields(kind: KindSpec, change: Change) -> set[str]:
    """Canonical fields to PATCH: the plan's list, plus any patchable field that differs
    (drift the plan may have described only in YAML words)."""
    fields = set(change.fields)
    desired, live = change.desired, change.live
    if desired is not None and live is not None:
        fields |= {f for f in kind.patchable if f != "metadata" and desired.spec.get(f) != live.spec.get(f)}
    return fields - desired.ignore if desired is not None else fields
