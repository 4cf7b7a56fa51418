"""List queries: parameter parsing into SQL conditions, and id-keyed cursor pagination."""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from . import choices
from .errors import field_problem, invalid_data
from .store import Record, iso

if TYPE_CHECKING:
    from .kinds import KindSpec
    from .runtime import Emulator

Query = dict[str, list[str]]
TIME_FILTERS = {"created_at[gt]": ("created_at", ">"), "created_at[lt]": ("created_at", "<"),
                "updated_at[gt]": ("updated_at", ">"), "updated_at[lt]": ("updated_at", "<")}


@dataclass
class ListQuery:
    where: list[str] = field(default_factory=list)
    params: list[Any] = field(default_factory=list)
    limit: int = 20
    desc: bool = False
    anchor: str | None = None
    backward: bool = False  # paging with `before`: towards the start of the list


def query_error(name: str, message: str, code: str = "invalid_value") -> Exception:
    return invalid_data([field_problem([name], code, message)], entity="query")


def decode_cursor(text: str) -> tuple[str, bool]:
    """`cur_…` → (anchor id, backward); 400 when malformed."""
    if not text.startswith(choices.CURSOR_PREFIX):
        raise query_error("cursor", "Malformed cursor")
    body = text[len(choices.CURSOR_PREFIX):]
    try:
        raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise query_error("cursor", "Malformed cursor") from None
    direction, _, anchor = raw.partition(":")
    if direction not in ("a", "b") or not anchor:
        raise query_error("cursor", "Malformed cursor")
    return anchor, direction == "b"


def _single(query: Query, name: str) -> str | None:
    values = query.get(name)
    return values[-1] if values else None


def _timestamp(name: str, text: str) -> str:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise query_error(name, "Expected an ISO 8601 timestamp") from None
    return iso(moment if moment.tzinfo else moment.replace(tzinfo=UTC))


def _in(column: str, values: list[Any], q: ListQuery) -> None:
    """`column IN (values)`; a column holding `{}` is a condition with the marks put there."""
    if not values:
        q.where.append("0")  # nothing can match (e.g. an unknown provider)
        return
    marks = ", ".join("?" for _ in values)
    q.where.append(column.format(marks) if "{}" in column else f"{column} IN ({marks})")
    q.params.extend(values)


def _paging(query: Query, q: ListQuery) -> None:
    limit_text = _single(query, "limit")
    if limit_text is not None:
        if not limit_text.strip().isdigit() or not 1 <= int(limit_text) <= 100:
            raise query_error("limit", "Expected an integer between 1 and 100")
        q.limit = int(limit_text)
    order = (_single(query, "order") or "asc").lower()
    if order not in ("asc", "desc"):
        raise query_error("order", "Expected asc or desc", "invalid_enum_value")
    q.desc = order == "desc"
    anchors = {n: _single(query, n) for n in ("after", "before", "cursor") if _single(query, n)}
    if len(anchors) > 1:
        raise query_error(sorted(anchors)[0], "Use only one of after, before, cursor", "invalid_union")
    if "cursor" in anchors:
        q.anchor, q.backward = decode_cursor(anchors["cursor"])
    elif anchors:
        q.anchor = anchors.get("after") or anchors.get("before")
        q.backward = "before" in anchors


def _common_filters(query: Query, spec: KindSpec, q: ListQuery) -> None:
    q.where.append("kind = ?")
    q.params.append(spec.key)
    statuses = query.get("status") or ["active"]
    if any(s not in ("active", "archived") for s in statuses):
        raise query_error("status", "Expected active or archived", "invalid_enum_value")
    _in("status", sorted(set(statuses)), q)
    if query.get("id"):
        _in("id", query["id"], q)
    search = _single(query, "search")
    if search:
        pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        q.where.append("(name LIKE ? ESCAPE '\\' OR description LIKE ? ESCAPE '\\')")
        q.params += [pattern, pattern]
    for name, (column, op) in TIME_FILTERS.items():
        value = _single(query, name)
        if value:
            q.where.append(f"{column} {op} ?")
            q.params.append(_timestamp(name, value))


def _lagging(em: Emulator, q: ListQuery) -> None:
    """The list-lag fault: every object stays out of lists for `list_lag_ms` after its creation
    (by this emulator's clock), and each for its own share of `list_lag_jitter_ms` on top, so a
    list can show an object and miss an older one, as an eventually consistent API's lists may.
    Reads by id never lag."""
    lag_ms, jitter_ms = em.faults.settings.list_lag_ms, em.faults.settings.list_lag_jitter_ms
    if lag_ms > 0 or jitter_ms > 0:
        q.where.append("(julianday(?) - julianday(created_at)) * 86400000.0 >= ? + lag_share(?, id) * ?")
        q.params += [em.store.now_iso(), lag_ms, em.faults.lag_salt, jitter_ms]


# Parameters every list takes; anything else must be one of the kind's filters.
COMMON_PARAMS = frozenset({"limit", "order", "after", "before", "cursor", "status", "id", "search", *TIME_FILTERS})


def _refuse_unknown(spec: KindSpec, query: Query) -> None:
    """A filter the list does not know is refused, never ignored (choices: Pagination)."""
    unknown = sorted(set(query) - COMMON_PARAMS - set(spec.filters))
    if unknown:
        problems = [field_problem([n], "unrecognized_keys", f"Unknown filter for {spec.path}") for n in unknown]
        raise invalid_data(problems, entity="query")


def parse_list_query(em: Emulator, spec: KindSpec, query: Query) -> ListQuery:
    _refuse_unknown(spec, query)
    q = ListQuery()
    _paging(query, q)
    _common_filters(query, spec, q)
    _lagging(em, q)
    missing = [name for name in spec.required_filters if not query.get(name)]
    if missing:
        raise invalid_data([field_problem([m], "required", "Required") for m in missing], entity="query")
    for name, (column, resolver) in spec.filters.items():
        values = query.get(name)
        if values:
            resolved = [resolver(em, v) if resolver else v for v in values]
            _in(column, [v for v in resolved if v is not None], q)
    return q


def run_list(em: Emulator, q: ListQuery) -> tuple[list[Record], bool, bool]:
    """One page plus (has_more_before, has_more_after), in the list's order."""
    increasing = q.desc == q.backward  # asc+after and desc+before walk up the ids
    where, params = list(q.where), list(q.params)
    if q.anchor is not None:
        where.append(f"id {'>' if increasing else '<'} ?")
        params.append(q.anchor)
    rows = em.store.select(" AND ".join(where), params, "ASC" if increasing else "DESC", q.limit + 1)
    more_ahead = len(rows) > q.limit
    rows = rows[: q.limit]
    if q.backward:
        rows.reverse()
    more_behind = False
    if q.anchor is not None:
        behind = q.where + [f"id {'<=' if increasing else '>='} ?"]
        more_behind = em.store.exists(" AND ".join(behind), q.params + [q.anchor])
    if q.backward:
        return rows, more_ahead, more_behind
    return rows, more_behind, more_ahead
