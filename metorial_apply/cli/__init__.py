"""The command line: the only place that prints or exits.

Exit codes: 0 ok / no changes, 1 error, 2 changes present and 3 changes with deletes or
replacements (with --detailed-exitcode), 64 usage error (so it is never mistaken for 2),
130 interrupted.
"""

from __future__ import annotations

import dataclasses
import gc
import importlib
import os
import sys

import click

from metorial_apply import __version__
from metorial_apply.cli.options import key_origin
from metorial_apply.cli.output import Output, report_error
from metorial_apply.cli.streams import scrubbed_output
from metorial_apply.core.errors import MetorialApplyError

EXIT_OK, EXIT_ERROR, EXIT_CHANGES, EXIT_DESTRUCTIVE = 0, 1, 2, 3
EXIT_USAGE, EXIT_INTERRUPTED = 64, 130
GC_THRESHOLD = 50_000  # allocations between young collections (CPython's default: 700)

# Each command lives in its own module and exposes `command` (a click.Command).
COMMAND_MODULES = ("validate", "schema", "plan", "stacks", "apply", "destroy", "unlock", "index", "show", "catalog",
                   "export", "keygen", "emulator")

# `--help`'s one-line summaries, whole: click would cut each command's docstring at ~45 characters.
SUMMARIES = {
    "validate": "Check the YAML offline (--online: against the catalog too).",
    "schema": "Print the JSON Schema of the YAML, or check a saved copy.",
    "plan": "Show what apply would change, desired (YAML) against live (API).",
    "stacks": "List the workspace's stacks per environment (--changed-since REF; --json for a CI matrix).",
    "apply": "Apply the YAML, or a saved plan, to the API.",
    "destroy": "Delete every resource of the stack, dependents first.",
    "show": "Render a saved plan (plan.json) as text, Markdown or JSON, offline.",
    "unlock": "Break a stack lock held by a run that is gone.",
    "index": "The stack index (what each stack owns): `index rebuild` builds it from stamps.",
    "catalog": "Browse the provider catalog: versions, auth methods, config, tools.",
    "export": "Write YAML for existing resources (unmanaged ones with imports:, or a stack's).",
    "keygen": "Print a new fingerprint key (METORIAL_APPLY_FINGERPRINT_KEY) for a secret store.",
    "emulator": "Run the local Metorial API emulator.",
}
PREPARED = "_metorial_apply_prepared"  # set on a command once load_command has added to it


def _no_color(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and isinstance(ctx.obj, Output):
        ctx.obj = dataclasses.replace(ctx.obj, color=False)


def load_command(name: str) -> click.Command:
    """The command `name` from its module, prepared once: its whole summary, and `--no-color`."""
    command: click.Command = importlib.import_module(f"metorial_apply.cli.{name}").command
    if getattr(command, PREPARED, False):  # asked for again (help, then run; completion): add nothing twice
        return command
    command.short_help = SUMMARIES.get(name, command.short_help)
    if not isinstance(command, click.Group):  # `plan --no-color` works as well as `--no-color plan`
        command.params.append(click.Option(["--no-color"], is_flag=True, expose_value=False,
                                           callback=_no_color, help="No colour (NO_COLOR is honoured too)."))
    setattr(command, PREPARED, True)
    return command


class LazyGroup(click.Group):
    """A group that imports a command's module only when that command runs, shows its help or
    is completed. Start-up is mostly imports, and most commands pull in the HTTP client, rich, the
    emulator or jsonschema, which `--version` and an offline `validate` never use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*COMMAND_MODULES, *self.commands})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in self.commands or cmd_name not in COMMAND_MODULES:
            return super().get_command(ctx, cmd_name)
        return load_command(cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """The command list from SUMMARIES (what load_command would set), so `--help` imports no
        command module; a command without a summary is loaded for its own."""
        rows = [(name, SUMMARIES.get(name) or self._summary(ctx, name)) for name in self.list_commands(ctx)]
        shown = [(name, text) for name, text in rows if text is not None]
        if shown:
            with formatter.section("Commands"):
                formatter.write_dl(shown)

    def _summary(self, ctx: click.Context, name: str) -> str | None:
        command = self.get_command(ctx, name)
        return None if command is None or command.hidden else command.get_short_help_str()


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="metorial-apply")
@click.option("-v", "--verbose", count=True, help="More detail (-vv for debug logging; never secrets).")
@click.option("-q", "--quiet", is_flag=True, help="Only errors and the final summary.")
@click.option("--no-color", is_flag=True, help="No colour (NO_COLOR is honoured too).")
@click.option("--debug", is_flag=True, help="Show a traceback for internal errors (secrets still redacted).")
@click.pass_context
def cli(ctx: click.Context, verbose: int, quiet: bool, no_color: bool, debug: bool) -> None:
    """Plan and apply Metorial provider deployments, configs, auth configs and session templates from YAML."""
    ctx.obj = Output.create(verbose=verbose, quiet=quiet, no_color=no_color, debug=debug)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the group and map every outcome to an exit code."""
    debug = "--debug" in (argv if argv is not None else sys.argv[1:])
    # A command builds objects for every resource and frees few before it exits; at 10,000
    # resources the default thresholds re-scan them often enough to cost seconds (load and plan
    # took 1.4-1.8x as long). Cycles are still collected, only less often.
    gc.set_threshold(GC_THRESHOLD, 20, 100)
    # A pydantic plugin installed beside us would see every value our models validate, secrets
    # included, and finding plugins scans every installed distribution's entry points (~10 ms of
    # start-up). An explicit PYDANTIC_DISABLE_PLUGINS of the user's is left as it is.
    os.environ.setdefault("PYDANTIC_DISABLE_PLUGINS", "__all__")
    with scrubbed_output():
        _run(argv, debug)


def _run(argv: list[str] | None, debug: bool) -> None:
    try:
        code = cli.main(args=argv, prog_name="metorial-apply", standalone_mode=False)
    except click.exceptions.UsageError as exc:
        exc.show()
        sys.exit(EXIT_USAGE)
    except click.exceptions.Abort:
        click.echo("Interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(EXIT_ERROR)
    except MetorialApplyError as exc:
        report_error(exc, key_origin=key_origin(argv if argv is not None else sys.argv[1:]))
        sys.exit(EXIT_ERROR)
    except KeyboardInterrupt:
        click.echo("Interrupted.", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except Exception as exc:  # a bug: say so without leaking values
        report_error(exc, debug=debug)
        sys.exit(EXIT_ERROR)
    sys.exit(code if isinstance(code, int) else EXIT_OK)
