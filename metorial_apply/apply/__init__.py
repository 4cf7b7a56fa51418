"""Runs a Plan against the API: steps, schedule, execute, lost-create recovery, journal,
report. Imports core, planning and api."""
