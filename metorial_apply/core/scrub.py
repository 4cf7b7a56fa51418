"""The run's secrets, and the one filter that keeps them out of every output.

Redaction keeps secrets out of what metorial-apply builds (plans, diffs, diagnostics); this is
the last guard for what it cannot build safely by construction: a server's error message that
quotes the request body, an exception's text, a log line. Every secret value the run knows
(environment and file values the config reads, secret variables, backend credentials, the API
and signing keys, key secrets as backends hand them out) is registered here, and every string
bound for stdout, stderr, the journal or an output file passes through `scrub`.

A value is matched raw and as it travels: JSON-escaped, URL-encoded and base64 (standard and
URL-safe, at each of the three byte alignments, so it is found inside a longer encoded blob such
as a Basic auth header). Secrets shorter than MIN_SCRUBBED characters are replaced only in
server-supplied text (`scrub_server`), and there only as whole words: replacing a 4-character
value in every line we print would garble the output, and `validate` warns about them instead.

`SECRETS` is the process's registry: the CLI clears it when a command starts.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable
from urllib.parse import quote, quote_plus

from ahocorasick_rs import AhoCorasick

MIN_SCRUBBED = 8  # shorter values are scrubbed from server text only
MIN_ENCODED = 8  # a shorter base64 fragment would match too much unrelated text
MARK = "***"
MAX_BATCHES = 4  # finders searched per write, at most


_URLSAFE = str.maketrans("+/", "-_")
# Characters that JSON, URL encoding and shells leave as they are: a secret made only of them
# (most tokens) has one spelling besides base64, and its forms cost a regex match, not six encoders.
_PLAIN = re.compile(r"[A-Za-z0-9_.~-]*")


def _base64_cores(data: bytes) -> set[str]:
    """The part of the base64 text of `data` that does not depend on its neighbours, at each of the
    three positions it can start at within a 3-byte group (standard and URL-safe alphabets)."""
    out: set[str] = set()
    for shift in range(3):
        start = -(-shift * 8 // 6)  # the first character made of `data`'s bits only
        end = (shift + len(data)) * 8 // 6  # past the last such character
        core = base64.b64encode(b"\0" * shift + data).decode()[start:end]
        if len(core) >= MIN_ENCODED:
            out |= {core, core.translate(_URLSAFE)}
    return out


def forms(secret: str) -> set[str]:
    """Every spelling of `secret` an output may carry."""
    if _PLAIN.fullmatch(secret):
        return {secret} | _base64_cores(secret.encode())
    out = {secret, json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1],
           quote(secret, safe=""), quote(secret), quote_plus(secret, safe="")}
    return {f for f in out if f} | _base64_cores(secret.encode())


class _Finder:
    """Every place any form of a set of secrets occurs: one Aho-Corasick automaton, so a search
    costs the same for 5 secrets or 10,000 (Python's `re` over an alternation of them took ~1 s
    for a 3.7 MB plan with 50 secrets, and grew with each one)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.forms = list({f for s in secrets for f in forms(s)})
        self._automaton = AhoCorasick(self.forms) if self.forms else None

    def spans(self, text: str) -> list[tuple[int, int]]:
        """(start, end) of every occurrence, overlapping ones included: a secret that overlaps
        another is found whole, never left as a tail after its neighbour was replaced."""
        if self._automaton is None or not text:
            return []
        return [(start, end) for _, start, end in self._automaton.find_matches_as_indexes(text, overlapping=True)]


def _replace(text: str, spans: Iterable[tuple[int, int]]) -> str:
    """`text` with the union of `spans` replaced by MARK (one MARK per run of overlapping spans)."""
    parts, cursor = [], 0
    for start, end in sorted(spans):
        if end <= cursor:
            continue
        if start >= cursor:
            parts += [text[cursor:start], MARK]
        cursor = end
    return "".join(parts) + text[cursor:] if parts else text


def _whole_word(text: str, start: int, end: int) -> bool:
    return not (start > 0 and text[start - 1].isalnum()) and not (end < len(text) and text[end].isalnum())


class _Batch:
    """Secrets registered together, and their finders (long ones; short ones for server text)."""

    def __init__(self, secrets: set[str]) -> None:
        self.secrets = secrets
        self.long = _Finder(s for s in secrets if len(s) >= MIN_SCRUBBED)
        self.short = _Finder(s for s in secrets if len(s) < MIN_SCRUBBED)
        self.longest = max((len(f) for f in self.long.forms + self.short.forms), default=0)


class Scrubber:
    """A set of secret values and the two filters over them. Secrets registered after a search
    form a batch of their own, so a key secret added mid-apply does not rebuild the automaton of
    thousands of config secrets; past MAX_BATCHES the smaller batches are merged."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self.clear()

    def add(self, *values: object) -> None:
        """Register secret values (non-strings and empty strings are ignored)."""
        new = {v for v in values if isinstance(v, str) and v} - self._secrets
        if new:
            with self._guard:
                self._secrets |= new
                self._pending |= new

    def clear(self) -> None:
        with self._guard:
            self._secrets: set[str] = set()
            self._pending: set[str] = set()  # registered, in no batch yet
            self._batches: list[_Batch] = []

    def _ready(self) -> list[_Batch]:
        with self._guard:
            if self._pending:
                self._batches.append(_Batch(self._pending))
                self._pending = set()
                if len(self._batches) > MAX_BATCHES:
                    biggest = max(self._batches, key=lambda b: len(b.secrets))
                    rest = {s for b in self._batches if b is not biggest for s in b.secrets}
                    self._batches = [biggest, _Batch(rest)]
            return list(self._batches)

    def warm(self) -> None:
        """Build the finders of what was registered so far (the CLI runs this in a thread during
        the live read: 10,000 secrets take ~0.4 s of CPU, the live read waits on the network)."""
        self._ready()

    @property
    def longest(self) -> int:
        """Characters of the longest form of any secret: a text cut this much past a limit keeps
        every secret that reaches the limit whole."""
        return max((b.longest for b in self._ready()), default=0)

    def scrub(self, text: str) -> str:
        """`text` with every secret of MIN_SCRUBBED characters or more replaced, in every form."""
        if not text or not self._secrets:
            return text
        return _replace(text, [span for b in self._ready() for span in b.long.spans(text)])

    def scrub_server(self, text: str) -> str:
        """Server-supplied `text` with every secret replaced, however short (a short one only as a
        whole word): call it before the text is truncated, or a cut secret would no longer match."""
        if not text or not self._secrets:
            return text
        batches = self._ready()
        spans = [span for b in batches for span in b.long.spans(text)]
        spans += [(a, z) for b in batches for a, z in b.short.spans(text) if _whole_word(text, a, z)]
        return _replace(text, spans)

    def __len__(self) -> int:
        return len(self._secrets)

    def __repr__(self) -> str:
        return f"Scrubber({len(self._secrets)} secrets)"


SECRETS = Scrubber()
