"""Fingerprints computed ahead run in low-priority threads, never lowering the caller's own."""

from __future__ import annotations

import os
import sys
import threading

import pytest

from metorial_apply.core.fingerprint import background_pool


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice values are a Linux feature")
def test_pool_threads_run_at_the_lowest_priority_and_the_caller_keeps_its_own() -> None:
    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    pool = background_pool(2)
    try:
        niceness = pool.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result(timeout=10)
    finally:
        pool.shutdown()
    assert niceness == 19
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before
