"""The API settings' defaults and the `local` URL, in a module that imports nothing: the CLI
declares its options with them at start-up, before (and for offline commands without) loading
the client, httpx and asyncio."""

from __future__ import annotations

DEFAULT_API_URL = "https://api.metorial.com"
LOCAL = "local"  # `--api-url local`: the emulator in-process (api/local.py)
DEFAULT_DEADLINE_S = 30.0  # one request's total time, its whole response included (api/limits.py)
DEFAULT_MAX_WAIT_S = 15 * 60.0  # the run's waiting budget (api/waits.py)
