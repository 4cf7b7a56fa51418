"""The secret scrubber: every spelling of a registered value is replaced; short values only in
server text; registration and clearing."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote, quote_plus

from hypothesis import given
from hypothesis import strategies as st

from metorial_apply.core.scrub import MARK, MAX_BATCHES, MIN_SCRUBBED, Scrubber, forms

SECRET = 'p@ss "word"/+é\n0123'


def scrubber(*values: str) -> Scrubber:
    s = Scrubber()
    s.add(*values)
    return s


def test_raw_json_and_url_forms_are_all_replaced() -> None:
    s = scrubber(SECRET)
    for spelled in (SECRET, json.dumps(SECRET)[1:-1], json.dumps(SECRET, ensure_ascii=False)[1:-1],
                    quote(SECRET, safe=""), quote_plus(SECRET)):
        assert s.scrub(f"before {spelled} after") == f"before {MARK} after", spelled


@given(prefix=st.binary(max_size=5), suffix=st.binary(max_size=5),
       secret=st.text(min_size=MIN_SCRUBBED, max_size=40), urlsafe=st.booleans())
def test_base64_is_found_inside_a_longer_blob_at_any_alignment(prefix: bytes, suffix: bytes, secret: str,
                                                               urlsafe: bool) -> None:
    encode = base64.urlsafe_b64encode if urlsafe else base64.b64encode
    blob = encode(prefix + secret.encode() + suffix).decode()
    assert secret not in (out := scrubber(secret).scrub(blob)) and MARK in out


def test_a_basic_auth_header_loses_its_password() -> None:
    header = "Authorization: Basic " + base64.b64encode(b"ci-user:" + b"hunter2-hunter2").decode()
    out = scrubber("hunter2-hunter2").scrub(header)
    assert MARK in out and base64.b64encode(b"hunter2-hunter2").decode()[:8] not in out


def test_short_secrets_only_in_server_text_and_there_as_whole_words() -> None:
    s = scrubber("abc123", "k")
    assert s.scrub("value abc123 here") == "value abc123 here"
    assert s.scrub_server("value abc123 here") == f"value {MARK} here"
    assert s.scrub_server('{"api_key":"k"} Token was revoked') == f'{{"api_key":"{MARK}"}} Token was revoked'


def test_the_longer_of_two_overlapping_secrets_is_replaced_whole() -> None:
    s = scrubber("token-0123456789", "token-0123456789-extended")
    assert s.scrub("x token-0123456789-extended y") == f"x {MARK} y"


def test_nothing_registered_changes_nothing_and_clear_forgets() -> None:
    s = Scrubber()
    assert s.scrub("anything 0123456789") == "anything 0123456789"
    s.add("0123456789", None, "", 42)  # type: ignore[arg-type]
    assert len(s) == 1 and s.scrub("anything 0123456789") == f"anything {MARK}"
    s.clear()
    assert s.scrub("anything 0123456789") == "anything 0123456789"


def test_forms_never_include_an_empty_or_short_encoded_fragment() -> None:
    assert all(len(f) >= 1 for f in forms("x"))
    assert not any(len(f) < MIN_SCRUBBED and f not in ("x",) for f in forms("x") - {"x"})
    assert SECRET not in repr(scrubber(SECRET))


def test_overlapping_secrets_are_replaced_as_one_span_with_no_tail_left() -> None:
    s = scrubber("abcdefgh12", "gh12345678zz")
    assert s.scrub("<abcdefgh12345678zz>") == f"<{MARK}>"


def test_secrets_added_after_a_search_are_found_and_batches_stay_few() -> None:
    s = scrubber("first-secret-0001")
    assert s.scrub("first-secret-0001") == MARK
    late = [f"late-secret-{i:04d}" for i in range(10)]
    for value in late:
        s.add(value)
        assert s.scrub(f"x {value} first-secret-0001") == f"x {MARK} {MARK}"
    assert len(s._ready()) <= MAX_BATCHES and all(s.scrub(v) == MARK for v in late)


def test_a_server_message_cut_at_its_limit_never_keeps_a_secrets_head() -> None:
    """Scrubbed before it is cut: a secret straddling the limit goes whole, not its first half."""
    from metorial_apply.api.responses import server_text
    from metorial_apply.core.scrub import SECRETS

    SECRETS.add("straddling-secret-0123456789")
    try:
        text = server_text("a" * 90 + " straddling-secret-0123456789 and more", limit=100)
    finally:
        SECRETS.clear()
    assert "straddling" not in text and text.startswith("a" * 90 + " ***")
