"""An apply with keys: new key generations first, then the resource plan (each consumer sent its
value filled with the new secrets, in memory, and stamped with the value bound to the keys'
identities), then the old generations deleted, except those a failed consumer still holds.
"""

from __future__ import annotations

import dataclasses
import time
from typing import Any

from metorial_apply.apply.calls import ApiClient
from metorial_apply.apply.keyrun import KeyRunner
from metorial_apply.apply.report import ApplyReport, ChangeResult
from metorial_apply.apply.run import apply_plan
from metorial_apply.apply.schedule import Outcome
from metorial_apply.core.keys import held_text
from metorial_apply.core.keyslots import fill, keys_in
from metorial_apply.core.model import Address, SecretValue
from metorial_apply.core.state import State
from metorial_apply.planning.keybind import rebind_plan
from metorial_apply.planning.keychanges import without_keys
from metorial_apply.planning.keys import KeyPlan
from metorial_apply.planning.plan import Plan


def identities_after(keys: KeyPlan, runner: KeyRunner) -> dict[str, str]:
    """Key name → the identity its consumers hold once this run is done."""
    out: dict[str, str] = {}
    for change in keys.changes:
        name = change.address.name
        if name in runner.created:
            out[name] = runner.created[name].key.identity
        elif change.keep is not None:
            out[name] = change.keep.identity
    return out


def fills_for(plan: Plan, templates: State, runner: KeyRunner) -> dict[Address, SecretValue]:
    """The value each consumer sends: its template filled, when this run created all its keys."""
    parts, have = runner.parts(), templates.by_address()
    out: dict[Address, SecretValue] = {}
    for change in plan.actionable():
        template = have.get(change.address)
        if template is not None and template.secret is not None:
            names = keys_in(template.secret)
            if names and names <= parts.keys():
                out[change.address] = fill(template.secret, parts)
    return out


def held_records(templates: State, identities: dict[str, str]) -> dict[Address, str]:
    """Consumer → its stamp's `keys` record: the identity of every key generation it holds."""
    out: dict[Address, str] = {}
    for resource in templates:
        names = keys_in(resource.secret)
        if names and names <= identities.keys():
            out[resource.address] = held_text({name: identities[name] for name in names})
    return out


def _skipped(plan: Plan, cause: Address) -> tuple[ChangeResult, ...]:
    return tuple(ChangeResult(address=c.address, action=c.action.value, outcome=Outcome.SKIPPED, cause=cause)
                 for c in plan.actionable())


async def apply_with_keys(plan: Plan, client: ApiClient, keys: KeyPlan, templates: State, runner: KeyRunner,
                          **apply_kw: Any) -> ApplyReport:
    """`apply_plan` between the key steps; `templates` is the desired State as loaded (slots in
    its consumers' values). A failed key step skips every resource change."""
    began = time.monotonic()
    if not await runner.before(keys):
        failed = next(r.address for r in runner.results if r.outcome is Outcome.FAILED)
        return ApplyReport(stack=plan.stack, results=(*runner.results, *_skipped(without_keys(plan), failed)),
                           elapsed_s=time.monotonic() - began)
    first, identities = len(runner.results), identities_after(keys, runner)
    bound = rebind_plan(without_keys(plan), templates, identities)
    consumers = frozenset(a for k in templates.api_keys for a in k.consumers)
    report = await apply_plan(bound, client, fills=fills_for(bound, templates, runner), consumers=consumers,
                              held=held_records(templates, identities), **apply_kw)
    unfinished = {r.address for r in report.results if r.outcome is not Outcome.DONE}
    held_back = {k.name for k in templates.api_keys if set(k.consumers) & unfinished}
    if report.stopped is None:
        await runner.after(keys, held_back)
    results = (*runner.results[:first], *report.results, *runner.results[first:])
    return dataclasses.replace(report, results=results, elapsed_s=time.monotonic() - began)

