"""Serving an emulator's ASGI app over real HTTP with uvicorn, on loopback addresses only.

Both `emulator serve` commands (serve.py for Metorial, keys/cli.py for Metlo and Metal) build
their server here, so neither imports the other for it.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import uvicorn

from .transport import quiet_uvicorn_drop_logs


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def loopback_server(app: Any, host: str, port: int, log_level: str, *, date_header: bool = True) -> uvicorn.Server:
    """A uvicorn server for one of the emulators' apps (not started). Loopback only: every
    emulator accepts well-known keys. `date_header` False: the app sends its own `Date`."""
    if not is_loopback(host):
        raise ValueError(f"the emulator only listens on loopback addresses, not {host!r}: it accepts well-known keys")
    quiet_uvicorn_drop_logs()
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, lifespan="off", access_log=False,
                            date_header=date_header)
    return uvicorn.Server(config)
