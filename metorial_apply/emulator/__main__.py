"""`python -m metorial_apply.emulator serve ...`"""

from .serve import emulator_group

if __name__ == "__main__":
    emulator_group(prog_name="python -m metorial_apply.emulator")
