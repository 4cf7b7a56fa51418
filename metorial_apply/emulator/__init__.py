"""Local Metorial API emulator (ASGI over SQLite). Imports nothing from the rest of metorial_apply."""
