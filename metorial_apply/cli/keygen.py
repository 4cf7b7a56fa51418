"""`metorial-apply keygen`: print a fresh fingerprint key for METORIAL_APPLY_FINGERPRINT_KEY, or
with `--index` a fresh Ed25519 private key for METORIAL_APPLY_INDEX_KEY (its public half, for
plan jobs' METORIAL_APPLY_INDEX_PUBKEY, goes to stderr: it is no secret).

Only the key goes to stdout, so it pipes straight into a secret store
(`gh secret set METORIAL_APPLY_FINGERPRINT_KEY --body "$(metorial-apply keygen)"`); what to
do with it goes to stderr. The key is not saved anywhere: whoever runs this stores it.
"""

from __future__ import annotations

import click

from metorial_apply.cli.output import Output
from metorial_apply.core.fingerprint import KEY_ENV, FingerprintKey, new_key


def index_pair(out: Output) -> None:
    import base64

    from metorial_apply.cli.options import INDEX_KEY_ENV, INDEX_PUBKEY_ENV
    from metorial_apply.core.signing import key_id, new_pair

    private, public = new_pair()
    click.echo(base64.b64encode(private).decode())
    out.echo(f"Store this as {INDEX_KEY_ENV} in the apply job's secret store only (key id {key_id(public)}); give "
             f"plan jobs the public half, {INDEX_PUBKEY_ENV}={base64.b64encode(public).decode()} . Then run "
             "`metorial-apply index rebuild --stack NAME` once per stack to sign its index.", err=True)


@click.command("keygen")
@click.option("--index", "index", is_flag=True, help="A signing key pair for the stack index instead.")
@click.pass_context
def command(ctx: click.Context, index: bool) -> None:
    """Print a new random key for keyed secret fingerprints (stdout: the key only)."""
    out: Output = ctx.obj or Output()
    if index:
        index_pair(out)
        return
    key = new_key()
    click.echo(key)
    if not out.quiet:
        key_id = FingerprintKey.parse(key).key_id
        out.echo(f"Store this as {KEY_ENV} in the same secret store as METORIAL_API_KEY (key id {key_id}). "
                 "Plans and applies of this stack then need it: keep it, since a lost key means "
                 "re-creating the resources whose stamps it keyed.", err=True)


__all__ = ["command"]
