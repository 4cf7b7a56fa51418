"""stdout and stderr behind the secret scrubber (core/scrub.py), for the length of one command.

Every writer of the process (click, rich, logging, a traceback printed by --debug) reaches the
terminal through `sys.stdout`/`sys.stderr`, so wrapping those two is what makes the scrubber
see every string, including the ones no code path here thought to filter.
"""

from __future__ import annotations

import io
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from metorial_apply.core.scrub import SECRETS, Scrubber

# The run's secrets that come from the environment rather than the config (the config's own are
# registered as it loads; --api-key as the session opens; key secrets as backends answer).
SECRET_ENV = ("METORIAL_API_KEY", "METORIAL_APPLY_FINGERPRINT_KEY", "METORIAL_APPLY_INDEX_KEY")


class ScrubbedStream(io.TextIOBase):
    """A text stream that writes through `scrubber` to `inner`; everything else is `inner`'s."""

    def __init__(self, inner: IO[str], scrubber: Scrubber) -> None:
        super().__init__()
        self._inner, self._scrubber = inner, scrubber

    def write(self, text: str) -> int:
        self._inner.write(self._scrubber.scrub(text))
        return len(text)  # what the caller gave: it must not retry the difference

    def flush(self) -> None:
        self._inner.flush()

    def isatty(self) -> bool:
        return self._inner.isatty()

    def fileno(self) -> int:
        return self._inner.fileno()

    def writable(self) -> bool:
        return True

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return getattr(self._inner, "encoding", None) or "utf-8"

    @property
    def errors(self) -> str | None:  # type: ignore[override]
        return getattr(self._inner, "errors", None)

    def __getattr__(self, name: str) -> Any:
        # Never hand out the byte buffer underneath: a writer that took it would bypass the filter.
        if name == "buffer":
            raise AttributeError(name)
        return getattr(self._inner, name)


@contextmanager
def scrubbed_output() -> Iterator[None]:
    """Start a command with a fresh set of secrets (those of the environment) and both output
    streams filtered; put the streams back when it ends, however it ends."""
    SECRETS.clear()
    SECRETS.add(*(os.environ.get(name, "") for name in SECRET_ENV))
    saved = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = ScrubbedStream(sys.stdout, SECRETS), ScrubbedStream(sys.stderr, SECRETS)  # type: ignore[assignment]
    try:
        yield
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        sys.stdout, sys.stderr = saved
        SECRETS.clear()  # a process that runs commands in turn (tests, an embedding tool) starts each clean
