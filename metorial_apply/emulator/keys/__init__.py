"""Local emulators of the Metlo and Metal API-key services (ASGI over SQLite).

Like the Metorial emulator they import nothing from the rest of metorial_apply:

    from metorial_apply.emulator.keys import KeySettings, create_key_app, bootstrap_credentials
    from metorial_apply.emulator import asgi_transport
    app = create_key_app(KeySettings(api="metal"))
    creds = bootstrap_credentials("metal")  # {"client_id": …, "api_key": …}

`key_emulator_of(app)` gives in-process access to stats, faults, keys and reset;
`local_key_app(api, state_dir)` is what a backend's `url: local` runs. Open behaviour is in
choices.py.
"""

from .app import SERVICES, bootstrap_credentials, create_key_app, key_emulator_of, local_key_app
from .runtime import KEY_APIS, KeyEmulator, KeySettings

__all__ = [
    "KEY_APIS", "SERVICES", "KeyEmulator", "KeySettings", "bootstrap_credentials", "create_key_app",
    "key_emulator_of", "local_key_app",
]
