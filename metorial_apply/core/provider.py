"""A catalog provider as a person browses it (`metorial-apply catalog`): versions, auth methods
with their input fields, config fields, tools. Frozen values; strings are the API's, so
whoever prints them makes them inert first."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", defer_build=True)  # built when first used (start-up)


class Field(Frozen):
    """One property of a JSON Schema object: its name, type and whether it is required."""

    name: str
    type: str = ""
    required: bool = False
    description: str = ""


class AuthMethod(Frozen):
    key: str
    type: str = ""
    name: str = ""
    fields: tuple[Field, ...] = ()


class Tool(Frozen):
    key: str
    name: str = ""


class ProviderSummary(Frozen):
    """One line of the provider list."""

    slug: str
    name: str
    identifier: str
    id: str
    current_version: str | None = None


class ProviderDetail(Frozen):
    """One provider with its current version's specification."""

    summary: ProviderSummary
    description: str = ""
    versions: tuple[str, ...] = ()  # newest first, as the API lists them
    auth_methods: tuple[AuthMethod, ...] = ()
    config_fields: tuple[Field, ...] = ()
    tools: tuple[Tool, ...] = ()
