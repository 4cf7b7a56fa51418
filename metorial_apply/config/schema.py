"""The JSON Schema of one config file, generated from the spec models in the kinds registry.

Every field is optional at the top level because a configuration may be split over files
(`stack:` in one, sections in others). Editors pick the schema up from a comment:
`# yaml-language-server: $schema=../../schemas/metorial-apply.schema.json`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, create_model

from metorial_apply.config.ignore import ignorable
from metorial_apply.core.kinds import SECTIONS
from metorial_apply.core.specs import ApiKeySpec

SCHEMA_PATH = Path("schemas") / "metorial-apply.schema.json"
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$"
STACK_PATTERN = r"^([A-Za-z0-9][A-Za-z0-9_.-]{0,63}|.*\$\{.*)$"  # a name, or one built with ${var.…}
VARIABLE_PATTERN = r"^[A-Za-z_][A-Za-z0-9_-]*$"

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
ADDRESS_PATTERN = r"^[a-z_]+\.[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$"
AddressText = Annotated[str, StringConstraints(pattern=ADDRESS_PATTERN)]
STRICT = ConfigDict(extra="forbid", populate_by_name=True)


class ImportEntry(BaseModel):
    model_config = STRICT
    to: AddressText = Field(description="The address (kind.name) that adopts the object.")
    id: str = Field(description="The live object's id.")


class MovedEntry(BaseModel):
    model_config = STRICT
    source: AddressText = Field(alias="from", description="The old address.")
    to: AddressText = Field(description="The new address.")


class RemovedEntry(BaseModel):
    model_config = STRICT
    source: AddressText = Field(alias="from", description="The address to stop managing (the object stays).")


DIRECTIVES: dict[str, Any] = {
    "imports": (list[ImportEntry] | None, Field(None, description="Adopt existing objects by id.")),
    "moved": (list[MovedEntry] | None, Field(None, description="Addresses renamed in place (same id).")),
    "removed": (list[RemovedEntry] | None, Field(None, description="Stop managing, without deleting.")),
}


class KeyBackendSpec(BaseModel):
    """A key service (Metlo or Metal) whose API keys `api_keys:` manages."""

    model_config = ConfigDict(extra="forbid")
    type: Literal["metlo", "metal"]
    url: str = Field(description="local, a URL whose host is listed in METORIAL_APPLY_KEY_HOSTS, or ${env:NAME} "
                     "with NAME listed in METORIAL_APPLY_KEY_URL_VARS")
    api_key: str | None = Field(None, description="From ${env:NAME} or ${file:PATH}; optional with url: local")
    client_id: str | None = Field(None, description="Metal only; from ${env:NAME} or ${file:PATH}")


def document_model() -> type[BaseModel]:
    """A pydantic model of one config file: `stack`, `variables` and one mapping per section."""
    fields: dict[str, Any] = {
        "stack": (
            str | None,
            Field(None, pattern=STACK_PATTERN, description="Ownership scope written into every resource's metadata."),
        ),
        "variables": (
            dict[Annotated[str, StringConstraints(pattern=VARIABLE_PATTERN)], str | int | float | bool] | None,
            Field(None, description="Values for ${var.NAME}; --var-file and --var override them."),
        ),
    }
    for section, kind in SECTIONS.items():
        fields[section] = (dict[Name, kind.model] | None,
                           Field(None, description=f"{kind.kind} resources by name."))
    fields["key_backends"] = (dict[Name, KeyBackendSpec] | None, Field(None, description="Key services by name."))
    fields["api_keys"] = (dict[Name, ApiKeySpec] | None, Field(None, description="API keys by name."))
    return create_model("MetorialApplyConfig", __config__=ConfigDict(extra="forbid"), **fields | DIRECTIVES)


def _name_keys(schema: dict[str, Any], pattern: str) -> None:
    """Pydantic drops key constraints of dicts; put them back as `propertyNames`."""
    for branch in schema.get("anyOf", [schema]):
        if branch.get("type") == "object":
            branch["propertyNames"] = {"pattern": pattern}


def _ignore_names(schema: dict[str, Any]) -> None:
    """`ignore:` takes the kind's ignorable field names only (the models share one plain list)."""
    for kind in SECTIONS.values():
        schema["$defs"][kind.model.__name__]["properties"]["ignore"]["items"]["enum"] = list(ignorable(kind))


def document_schema() -> dict[str, Any]:
    schema = document_model().model_json_schema()
    for key, prop in schema["properties"].items():
        if key not in DIRECTIVES:
            _name_keys(prop, VARIABLE_PATTERN if key == "variables" else NAME_PATTERN)
    _ignore_names(schema)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "metorial-apply configuration",
        "description": "One YAML file of a metorial-apply configuration. Strings may use ${env:NAME}, "
                       "${env:NAME:-default}, ${var.NAME} and ${file:PATH} (write-only values also "
                       "${key.NAME.secret}); $${ is a literal ${.",
    } | {k: v for k, v in schema.items() if k != "title"}


def render_schema() -> str:
    """The schema as stable text: sorted keys, two-space indent, trailing newline."""
    return json.dumps(document_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def schema_is_current(path: Path) -> bool:
    """True when the file at `path` holds exactly the schema generated from the models."""
    try:
        return path.read_text(encoding="utf-8") == render_schema()
    except OSError:
        return False
