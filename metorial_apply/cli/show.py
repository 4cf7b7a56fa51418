"""`metorial-apply show plan.json`: render a saved plan as text, Markdown or JSON, offline.

The file's checksum is checked as `apply` checks it (an HMAC with the fingerprint key set), so
what a reviewer reads is what `apply` would verify; no API call, no configuration read.
"""

from __future__ import annotations

from pathlib import Path

import click

from metorial_apply.cli.options import fingerprint_key
from metorial_apply.cli.output import Output
from metorial_apply.cli.planfile import apply_flags, read_plan_file
from metorial_apply.planning.saved import plan_to_dict
from metorial_apply.render import RenderContext, render_json, render_markdown, render_text


@click.command("show")
@click.argument("plan_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["text", "markdown", "json"]), default="text",
              show_default=True, help="Output format.")
@click.pass_context
def command(ctx: click.Context, plan_file: Path, fmt: str) -> None:
    """Render a saved plan (plan --out FILE) without the API."""
    out: Output = ctx.obj or Output()
    key = fingerprint_key()
    plan = read_plan_file(plan_file, key)
    context = RenderContext(
        api_url=f"saved plan {plan_file}", config_path=plan.config_path, saved_plan=str(plan_file),
        full_plan_hint=str(plan_file), plan_checksum=plan_to_dict(plan, key=key)["checksum"],
        apply_flags=apply_flags(plan.inputs),
    )
    if fmt == "json":
        text = render_json(plan, context, key=key)
    elif fmt == "markdown":
        text = render_markdown(plan, context)
    else:
        text = render_text(plan, context, color=out.color)
    click.echo(text, nl=False, color=out.color)
