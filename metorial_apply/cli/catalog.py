"""`metorial-apply catalog [PROVIDER]`: browse the provider catalog — what a config's
`provider:`, `method:`, `version:`, `value:` and `tools:` may name."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click

from metorial_apply.api.client import open_client
from metorial_apply.api.provider_detail import describe_provider, list_providers
from metorial_apply.cli.options import api_options
from metorial_apply.cli.output import Output
from metorial_apply.cli.session import state_dir_for
from metorial_apply.core.provider import ProviderDetail, ProviderSummary
from metorial_apply.render.catalog import catalog_json, render_provider, render_providers


async def _read(provider: str | None, api_url: str, api_key: str | None) -> list[ProviderSummary] | ProviderDetail:
    # With --api-url local the emulator's state lives beside the current directory's config.
    async with open_client(api_url, api_key, state_dir=state_dir_for(Path("."))) as client:
        return await list_providers(client) if provider is None else await describe_provider(client, provider)


@click.command("catalog")
@click.argument("provider", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print versioned JSON instead of text.")
@api_options
@click.pass_obj
def command(out: Output, provider: str | None, as_json: bool, api_url: str, api_key: str | None) -> None:
    """List the catalog's providers, or show one (slug, id or identifier): versions, auth
    methods and their fields, config fields (* required) and tools. A publishable key is enough."""
    value = asyncio.run(_read(provider, api_url, api_key))
    if as_json:
        text = catalog_json(value)
    else:
        text = render_provider(value) if isinstance(value, ProviderDetail) else render_providers(value)
    click.echo(text, nl=False, color=out.color)
