"""`metorial-apply keygen`: print a fresh fingerprint key for METORIAL_APPLY_FINGERPRINT_KEY.

Only the key goes to stdout, so it pipes straight into a secret store
(`gh secret set METORIAL_APPLY_FINGERPRINT_KEY --body "$(metorial-apply keygen)"`); what to
do with it goes to stderr. The key is not saved anywhere: whoever runs this stores it.
"""

from __future__ import annotations

import click

from metorial_apply.cli.output import Output
from metorial_apply.core.fingerprint import KEY_ENV, FingerprintKey, new_key


@click.command("keygen")
@click.pass_context
def command(ctx: click.Context) -> None:
    """Print a new random key for keyed secret fingerprints (stdout: the key only)."""
    out: Output = ctx.obj or Output()
    key = new_key()
    click.echo(key)
    if not out.quiet:
        key_id = FingerprintKey.parse(key).key_id
        out.echo(f"Store this as {KEY_ENV} in the same secret store as METORIAL_API_KEY (key id {key_id}). "
                 "Plans and applies of this stack then need it: keep it, since a lost key means "
                 "re-creating the resources whose stamps it keyed.", err=True)


__all__ = ["command"]
