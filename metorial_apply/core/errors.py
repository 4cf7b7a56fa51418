"""The error tree. Imports nothing from the package, so every layer may raise these.

Messages never contain request bodies, headers or secret values: callers build them from
status codes, API codes, API messages (which the API promises never echo secrets), paths
and addresses only.
"""

from __future__ import annotations

from dataclasses import dataclass, field


def size_text(n: int) -> str:
    """Bytes for people (limits in error messages): `16 MiB`, `512 KiB`, `300 bytes`."""
    for unit, size in (("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size and n % size == 0:
            return f"{n // size} {unit}"
    return f"{n} bytes"


class MetorialApplyError(Exception):
    """Root of every error metorial-apply raises on purpose; the CLI maps it to exit code 1."""


@dataclass(frozen=True)
class Diagnostic:
    """One problem in the user's configuration, positioned in its file."""

    message: str
    file: str | None = None
    line: int | None = None  # 1-based
    column: int | None = None  # 1-based
    path: str | None = None  # YAML path, e.g. "configs.github-prod.deployment"
    hint: str | None = None
    warning: bool = False  # offline validate's absent secret: reported, not fatal (an error with --strict)

    def location(self) -> str:
        parts = [p for p in (self.file, self.line, self.column) if p is not None]
        return ":".join(str(p) for p in parts)

    def __str__(self) -> str:
        where = self.location()
        head = f"{where}: " if where else ""
        subject = f"{self.path}: " if self.path else ""
        return f"{head}{subject}{self.message}"


class ConfigError(MetorialApplyError):
    """The configuration is invalid; carries every problem found in one pass."""

    def __init__(self, diagnostics: list[Diagnostic] | tuple[Diagnostic, ...]) -> None:
        self.diagnostics = tuple(diagnostics)
        count = len(self.diagnostics)
        first = str(self.diagnostics[0]) if self.diagnostics else "invalid configuration"
        super().__init__(first if count == 1 else f"{count} errors; first: {first}")


class UsageError(MetorialApplyError):
    """The command was called in a way that cannot work (bad flag combination, missing key)."""


class ApiKeyError(MetorialApplyError):
    """An API key is missing, malformed, or of the wrong type for the operation."""


class InsecureTransportError(MetorialApplyError):
    """Refused to send a key over plain http to a non-loopback host."""


class PlanError(MetorialApplyError):
    """A plan cannot be built or loaded (for example a corrupt saved plan)."""


class StalePlanError(PlanError):
    """A saved plan no longer matches live state; names the resources that moved."""

    def __init__(self, moved: list[str] | tuple[str, ...], message: str | None = None) -> None:
        self.moved = tuple(moved)
        super().__init__(message or "the saved plan is stale; live state changed for: " + ", ".join(self.moved))


class SafetyError(MetorialApplyError):
    """A safety rule refused the plan (deletes in CI, mass delete, protect: true, empty config)."""

    def __init__(self, message: str, flag: str | None = None) -> None:
        self.flag = flag  # the flag that overrides this refusal, if any
        super().__init__(message)


@dataclass(frozen=True)
class ApiCall:
    """What was being attempted when the API failed: enough to name it, never its body."""

    method: str
    path: str  # path only, no query string values that could carry secrets
    kind: str | None = None
    name: str | None = None  # the resource name (address = kind.name) when known
    request_id: str | None = None  # the API's metorial-req-id


@dataclass
class FieldProblem:
    """One field-level problem from a 400 `invalid_data` body."""

    path: tuple[str, ...] = field(default_factory=tuple)
    code: str = ""
    message: str = ""


class ApiError(MetorialApplyError):
    """The API answered with an error, or could not be reached. `status` is None for transport errors."""

    def __init__(
        self,
        call: ApiCall,
        status: int | None,
        code: str,
        message: str,
        *,
        hint: str | None = None,
        problems: tuple[FieldProblem, ...] = (),
    ) -> None:
        self.call = call
        self.status = status
        self.code = code
        self.api_message = message
        self.hint = hint
        self.problems = problems
        super().__init__(self.describe())

    @property
    def address(self) -> str | None:
        if self.call.kind and self.call.name:
            return f"{self.call.kind}.{self.call.name}"
        return None

    def describe(self) -> str:
        status = f"{self.status} " if self.status is not None else ""
        where = f"{self.call.method} {self.call.path}"
        if self.call.request_id:
            where += f", request {self.call.request_id}"
        # Some servers already spell the field problems out in the message; don't repeat them.
        detail = "; ".join(
            f"{'.'.join(p.path) or '(body)'}: {p.message}" for p in self.problems
            if p.message not in self.api_message
        )
        message = self.api_message + (f" — {detail}" if detail else "")
        return f"{status}{self.code}: {message} ({where})"


class BadRequestError(ApiError):
    """400: validation (`invalid_data`), `bad_request`, `use_after_delete` or a domain error."""


class UnauthorizedError(ApiError):
    """401: missing, malformed or unknown key."""


class ForbiddenError(ApiError):
    """403: the key may not do this (e.g. a publishable key)."""


class NotFoundError(ApiError):
    """404."""


class ConflictError(ApiError):
    """409."""


class GoneError(ApiError):
    """410: update or delete of an archived object."""


class PreconditionFailedError(ApiError):
    """412."""


class RateLimitedError(ApiError):
    """429 after retries ran out."""


class ServerError(ApiError):
    """5xx after retries ran out."""


class TransportError(ApiError):
    """Timeout or connection failure after retries ran out (no status)."""


class OutcomeUnknownError(ApiError):
    """A create (POST) was sent but its response was lost (timeout, dropped connection, 5xx).

    It is never re-sent blindly: the applier looks the resource up by `stamp` (the ownership
    metadata sent with the create) and adopts it, or creates it once more if it is absent.
    """

    def __init__(self, call: ApiCall, status: int | None, code: str, message: str, *, stamp: dict[str, str]) -> None:
        self.stamp = dict(stamp)
        super().__init__(call, status, code, message)


STATUS_ERRORS: dict[int, type[ApiError]] = {
    400: BadRequestError,
    401: UnauthorizedError,
    403: ForbiddenError,
    404: NotFoundError,
    409: ConflictError,
    410: GoneError,
    412: PreconditionFailedError,
    429: RateLimitedError,
}


def error_class_for(status: int | None) -> type[ApiError]:
    """The ApiError subclass for an HTTP status (None → transport)."""
    if status is None:
        return TransportError
    if status >= 500:
        return ServerError
    return STATUS_ERRORS.get(status, ApiError)
