"""The journal's timestamps: one clock reading per entry, so no entry is dated a second early."""

from __future__ import annotations

import time

from metorial_apply.apply.journal import utc_stamp


def test_stamp_just_after_a_second_boundary_keeps_its_second() -> None:
    assert utc_stamp(1795841557.0004) == "2026-11-28T04:52:37.000Z"
    assert utc_stamp(1795841556.9999) == "2026-11-28T04:52:36.999Z"


def test_stamps_never_go_backwards() -> None:
    stamps = [utc_stamp(time.time()) for _ in range(20000)]
    assert stamps == sorted(stamps)
