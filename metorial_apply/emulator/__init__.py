"""Local Metorial API emulator (ASGI over SQLite). Imports nothing from the rest of metorial_apply.

    from metorial_apply.emulator import create_app, EmulatorSettings, asgi_transport
    app = create_app(EmulatorSettings())
    client = httpx.AsyncClient(transport=asgi_transport(app), base_url="http://emulator")

`app.state.emulator` (or `emulator_of(app)`) gives in-process access to stats, faults, reset.
"""

from .app import create_app, emulator_of
from .runtime import Emulator
from .settings import DEFAULT_PUBLISHABLE_KEY, DEFAULT_SECRET_KEY, EmulatorSettings, FaultSettings, parse_rate_limit
from .transport import ResponseDropped, asgi_transport

__all__ = [
    "DEFAULT_PUBLISHABLE_KEY", "DEFAULT_SECRET_KEY", "Emulator", "EmulatorSettings", "FaultSettings",
    "ResponseDropped", "asgi_transport", "create_app", "emulator_of", "parse_rate_limit",
]
