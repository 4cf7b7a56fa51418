"""`metorial-apply emulator …`: the local Metorial API (see metorial_apply/emulator/)."""

from metorial_apply.emulator.serve import emulator_group as command

__all__ = ["command"]
