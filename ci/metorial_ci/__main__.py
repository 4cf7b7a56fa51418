"""`python -m metorial_ci github|gitlab validate|plan|apply|drift` (ci/ on PYTHONPATH)."""

from __future__ import annotations

import os
import sys

from . import flows
from .drift import drift
from .forge import Forge
from .settings import Settings

COMMANDS = ("validate", "plan", "apply", "drift")


def forge_of(name: str, settings: Settings) -> Forge:
    env = os.environ
    if name == "github":
        from .github import GitHub

        return GitHub(env["GITHUB_REPOSITORY"], settings.bot, settings.apply_workflow,
                      env.get("METORIAL_CI_BRANCH", "main"))
    from .gitlab import GitLab

    return GitLab(env["CI_API_V4_URL"], env["CI_PROJECT_ID"], settings.bot, env.get("METORIAL_CI_BRANCH", "main"))


def run(forge_name: str, command: str, settings: Settings) -> int:
    if command == "validate":
        return flows.validate(settings)
    forge = forge_of(forge_name, settings) if settings.comment or command != "plan" else None
    if command == "plan":
        return flows.plan(forge, settings)
    assert forge is not None
    return flows.apply(forge, settings) if command == "apply" else drift(forge, settings)


def main(argv: list[str]) -> int:
    if len(argv) != 2 or argv[0] not in ("github", "gitlab") or argv[1] not in COMMANDS:
        print(f"usage: python -m metorial_ci github|gitlab {'|'.join(COMMANDS)}", file=sys.stderr)
        return 64
    code = run(argv[0], argv[1], Settings.from_env())
    if output := os.environ.get("GITHUB_OUTPUT"):
        with open(output, "a", encoding="utf-8") as out:
            out.write(f"exitcode={code}\n")
    # plan: 2 and 3 are results (changes, deletes), reported in the output and the comment; a
    # failed unit (1) fails the job, after its comment carries the error.
    return 0 if argv[1] == "plan" and code in (0, 2, 3) else code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
