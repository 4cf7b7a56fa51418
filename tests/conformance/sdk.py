"""The official `metorial` SDK's generated endpoint definitions as data, and checks of recorded
requests and responses against them.

Endpoints are read by calling every public method of every generated endpoint class with a fake
manager that records the request it would send (HTTP method, path, body and query keys) and the
response mapper it would apply, instead of sending it. Path ids become `{id}`.
"""

from __future__ import annotations

import dataclasses
import datetime
import importlib
import inspect
import pkgutil
import typing
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import metorial._generated.magnetar.endpoints as generated

PLACEHOLDER = "{id}"
# The same endpoints again under /dashboard/instances/{id}/…, /management/… and the consumer API:
# not the public paths our client calls, and skipping them keeps reading the SDK fast.
SURFACES = ("dashboard_", "management_", "consumer_")


@dataclass
class Endpoint:
    method: str
    path: tuple[str, ...]  # segments, ids as "{id}"
    body: frozenset[str]
    query: frozenset[str]
    mapper: Callable[[dict[str, Any]], Any] | None
    source: str  # "module.Class.method", for messages


@dataclass
class _Captured:
    method: str = ""
    request: Any = None
    mapper: Any = None


class _Result:
    def __init__(self, captured: _Captured) -> None:
        self.captured = captured

    def transform(self, mapper: Any) -> None:
        self.captured.mapper = mapper


class _Manager:
    """Stands in for MetorialEndpointManager: keeps the request instead of sending it."""

    def __init__(self) -> None:
        self.captured = _Captured()

    def __getattr__(self, name: str) -> Callable[[Any], _Result]:
        if name not in ("_get", "_post", "_put", "_patch", "_delete"):
            raise AttributeError(name)

        def record(request: Any) -> _Result:
            self.captured.method, self.captured.request = name[1:].upper(), request
            return _Result(self.captured)

        return record


def _call(cls: type, name: str) -> _Captured | None:
    manager = _Manager()
    endpoint = cls(manager)
    method = getattr(endpoint, name)
    signature = inspect.signature(method)
    args = [PLACEHOLDER for p in signature.parameters.values() if p.kind is p.POSITIONAL_OR_KEYWORD]
    kwargs = {p.name: "x" for p in signature.parameters.values() if p.kind is p.KEYWORD_ONLY}
    try:
        method(*args, **kwargs)
    except Exception:  # a method that needs real values: not one of the REST endpoints we use
        return None
    return manager.captured if manager.captured.request is not None else None


def endpoints() -> list[Endpoint]:
    """Every REST endpoint the SDK defines."""
    out = []
    for info in pkgutil.iter_modules(generated.__path__):
        if info.name.startswith(SURFACES):
            continue
        module = importlib.import_module(f"{generated.__name__}.{info.name}")
        for cls_name, cls in inspect.getmembers(module, inspect.isclass):
            if cls.__module__ != module.__name__ or not cls_name.startswith("Metorial"):
                continue
            for name, _ in inspect.getmembers(cls, inspect.isfunction):
                captured = None if name.startswith("_") else _call(cls, name)
                if captured is None:
                    continue
                request = captured.request
                path = request.path if isinstance(request.path, list) else request.path.split("/")
                out.append(Endpoint(
                    method=captured.method, path=tuple(str(p) for p in path if p),
                    body=frozenset(request.body or {}), query=frozenset(request.query or {}),
                    mapper=captured.mapper, source=f"{info.name}.{cls_name}.{name}",
                ))
    return out


def matching(found: Iterable[Endpoint], method: str, path: str) -> list[Endpoint]:
    segments = tuple(p for p in path.split("/") if p)
    return [e for e in found if e.method == method and len(e.path) == len(segments)
            and all(a in (PLACEHOLDER, b) for a, b in zip(e.path, segments, strict=True))]


@dataclass(frozen=True)
class Sent:
    """One request as our client sent it (recorded at the transport)."""

    method: str
    path: str
    query: frozenset[str]
    body: dict[str, Any] | None


def request_problems(sent: Iterable[Sent], found: list[Endpoint]) -> list[str]:
    """Requests with no SDK endpoint of that method and path, or body / query keys outside it."""
    problems = set()
    for s in sent:
        candidates = matching(found, s.method, s.path)
        if not candidates:
            problems.add(f"{s.method} {s.path}: no endpoint in the SDK")
            continue
        body = frozenset(s.body or {})
        query = frozenset(k.removesuffix("[]") for k in s.query)
        if not any(body <= e.body and query <= e.query for e in candidates):
            best = candidates[0]
            extra = sorted((body - best.body) | (query - best.query))
            problems.add(f"{s.method} {s.path}: {', '.join(extra)} not among {best.source}'s parameters")
    return sorted(problems)


# -- responses -------------------------------------------------------------------------------


def _unwrap(hint: Any) -> tuple[Any, bool]:
    """(the type inside Optional[…], whether None is allowed)."""
    args = typing.get_args(hint)
    if typing.get_origin(hint) is typing.Union and type(None) in args:
        rest = [a for a in args if a is not type(None)]
        return (rest[0] if len(rest) == 1 else typing.Union[tuple(rest)]), True  # noqa: UP007
    return hint, False


def _element(hint: Any) -> Any:
    """The dataclass a field holds (directly or as a list's element), else None."""
    hint, _ = _unwrap(hint)
    if typing.get_origin(hint) in (list, typing.List):  # noqa: UP006
        hint = typing.get_args(hint)[0]
    return hint if dataclasses.is_dataclass(hint) else None


def _scalar_ok(value: Any, hint: Any) -> bool:
    """Whether a JSON value is what the SDK's field type says (datetimes arrive as ISO 8601 text)."""
    if hint is Any:
        return True
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if hint is datetime.datetime:
        try:
            return isinstance(value, str) and datetime.datetime.fromisoformat(value.replace("Z", "+00:00")) is not None
        except ValueError:
            return False
    return True  # a type these checks do not know: the SDK's own parser has the last word


def type_problem(value: Any, hint: Any) -> str | None:
    """What is wrong with a (non-null) value's JSON type for the SDK's field type, or None."""
    hint, _ = _unwrap(hint)
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Union:
        return None if any(type_problem(value, a) is None for a in args) else f"not any of {hint}"
    if origin is typing.Literal:
        return None if value in args else f"{value!r} not one of {args}"
    if origin in (list, typing.List):  # noqa: UP006
        return None if isinstance(value, list) else f"{type(value).__name__}, not a list"
    if origin in (dict, typing.Dict) or dataclasses.is_dataclass(hint):  # noqa: UP006
        return None if isinstance(value, dict) else f"{type(value).__name__}, not an object"
    expected = getattr(hint, "__name__", hint)
    return None if _scalar_ok(value, hint) else f"{type(value).__name__} {value!r:.40}, not {expected}"


def shape_problems(raw: Any, cls: type, where: str = "") -> list[str]:
    """Keys of `raw` the SDK type lacks, required fields `raw` leaves out, and values of another
    JSON type than the field's (a list's elements too), recursively."""
    if not isinstance(raw, dict):
        return []
    hints = typing.get_type_hints(cls)
    problems = [f"{where}{k}: not a field of the SDK's {cls.__name__}" for k in raw if k not in hints]
    for name, hint in hints.items():
        _, optional = _unwrap(hint)
        value = raw.get(name)
        if value is None:
            if not optional:
                problems.append(f"{where}{name}: required by the SDK's {cls.__name__}, missing")
            continue
        wrong = type_problem(value, hint)
        if wrong is None and isinstance(value, list) and (elements := typing.get_args(_unwrap(hint)[0])):
            wrong = next((f"[{i}] {w}" for i, v in enumerate(value)
                          if v is not None and (w := type_problem(v, elements[0]))), None)
        if wrong is not None:
            problems.append(f"{where}{name}: {wrong} (the SDK's {cls.__name__})")
            continue
        inner = _element(hint)
        if inner is not None:
            items = value if isinstance(value, list) else [value]
            for i, item in enumerate(items):
                problems += shape_problems(item, inner, f"{where}{name}[{i}]." if isinstance(value, list)
                                           else f"{where}{name}.")
    return problems


def output_type(endpoint: Endpoint) -> type | None:
    mapper = getattr(endpoint.mapper, "__self__", None) or _owner(endpoint.mapper)
    from_dict = getattr(mapper, "from_dict", None)
    hint = typing.get_type_hints(from_dict).get("return") if from_dict else None
    return hint if dataclasses.is_dataclass(hint) else None


def _owner(function: Any) -> Any:
    """The mapper class of a `mapX.from_dict` staticmethod."""
    module = inspect.getmodule(function)
    owner = getattr(function, "__qualname__", "").rpartition(".")[0]
    return getattr(module, owner, None)


@dataclass
class Seen:
    """One response our client received, and the key paths our code read from it."""

    method: str
    path: str
    body: Any
    reads: set[tuple[str, ...]] = field(default_factory=set)


def read_problems(seen: Seen, cls: type) -> list[str]:
    """Key paths our client read that the SDK's type does not have ("*" = any list element)."""
    problems = []
    for path in sorted(seen.reads):
        current: Any = cls
        for part in path:
            if part == "*" or current is None:
                continue
            hints = typing.get_type_hints(current)
            if part not in hints:
                where = f"{seen.method} {seen.path}"
                problems.append(f"{where}: reads {'.'.join(path)}, not in the SDK's {current.__name__}")
                break
            current = _element(hints[part])
    return problems
