"""The workspace file (`metorial-apply.yaml` at a repository's root): every stack of the repo and
the environments each is planned for. Pure: text in, units and diagnostics out.

A *unit* is one entry in one environment (`support/staging`; an entry without environments is
its own unit, `support`): a config path, var files, the stack name and where its API URL and
key come from. Paths are relative to the workspace file, POSIX, and stay inside its directory.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import PurePosixPath
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from metorial_apply.config.files import WORKSPACE_FILE
from metorial_apply.config.yamlsource import Document, YamlPath, diagnostic, parse_yaml
from metorial_apply.core.errors import ConfigError, Diagnostic
from metorial_apply.core.suggest import did_you_mean

WORKSPACE_VERSION = 1
UNIT_PART = r"^[a-z0-9][a-z0-9_-]{0,62}$"
STACK_NAME = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
# The API URL and key come from variables the workspace names. A URL variable must be ours
# (METORIAL_…): in merge-request pipelines some variables carry author-written text (a commit
# title), and a URL taken from one would send the API key wherever the author chose.
URL_VARIABLE = r"^METORIAL_[A-Z0-9_]{1,100}$"
KEY_VARIABLE = r"^[A-Z_][A-Z0-9_]{0,100}$"
DEFAULT_URL = "--api-url"  # shown where a unit takes the command's URL

Part = Annotated[str, StringConstraints(pattern=UNIT_PART)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)  # built when first used (start-up)


def _relative(value: str) -> str:
    path = PurePosixPath(value)
    if path.is_absolute() or ".." in path.parts or "\\" in value or not value.strip():
        raise ValueError(f"{value!r}: paths are relative to the workspace file and stay below it (no `..`, no `/…`)")
    return path.as_posix()


class Environment(_Model):
    """One environment of a stack: its own stack name, inputs and API."""

    stack: Annotated[str, StringConstraints(pattern=STACK_NAME)] = Field(
        description="Ownership scope of this stack in this environment (overrides `stack:` in the config).")
    var_files: tuple[str, ...] = Field((), description="Var files, in order, relative to the workspace file.")
    api_url: str | None = Field(None, description="API base URL for this environment (or `api_url_env`).")
    api_url_env: Annotated[str, StringConstraints(pattern=URL_VARIABLE)] | None = Field(
        None, description="Environment variable holding the API URL (METORIAL_…).")
    api_key_env: Annotated[str, StringConstraints(pattern=KEY_VARIABLE)] | None = Field(
        None, description="Environment variable holding the secret API key (default METORIAL_API_KEY).")

    @field_validator("var_files")
    @classmethod
    def _paths(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(_relative(v) for v in value)


class Entry(Environment):
    """A stack of the repository; with `environments`, each environment is a unit."""

    stack: Annotated[str, StringConstraints(pattern=STACK_NAME)] | None = Field(  # type: ignore[assignment]
        None, description="Stack name when the entry has no environments.")
    path: str = Field(description="The stack's config directory or file, relative to the workspace file.")
    when_modified: tuple[str, ...] = Field(
        (), description="Extra globs (relative to the workspace file; `**` spans directories) whose change "
                        "marks the stack changed.")
    environments: dict[Part, Environment] = Field(default_factory=dict)

    @field_validator("path")
    @classmethod
    def _path(cls, value: str) -> str:
        return _relative(value)


class WorkspaceFile(_Model):
    version: int = Field(WORKSPACE_VERSION, description="Workspace file format (1).")
    workspace: Part = Field(description="The workspace's name (the combined PR comment's marker).")
    stacks: dict[Part, Entry] = Field(min_length=1)


class Unit(_Model):
    """One stack in one environment: everything a plan of it needs besides secrets."""

    name: str  # entry/env, or entry
    entry: str
    environment: str | None
    path: str
    stack: str
    var_files: tuple[str, ...]
    api_url: str | None
    api_url_env: str | None
    api_key_env: str | None
    when_modified: tuple[str, ...]

    @property
    def file(self) -> str:
        """The unit's name as a file name (`support.staging`): saved plans, artifacts."""
        return self.name.replace("/", ".")

    def url_source(self) -> str:
        """Where the API URL comes from, for duplicate checks and listings."""
        return self.api_url or (f"${self.api_url_env}" if self.api_url_env else DEFAULT_URL)


class Workspace(_Model):
    name: str
    file: str  # the workspace file as shown in messages
    units: tuple[Unit, ...]

    def entries(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(u.entry for u in self.units))

    def select(self, names: Iterable[str]) -> tuple[Unit, ...]:
        """Units by name (`support/staging`) or whole entries (`support`), in workspace order;
        an unknown name is a ConfigError with a suggestion."""
        wanted, problems = set(), []
        for name in names:
            found = {u.name for u in self.units if name in (u.name, u.entry)}
            if not found:
                known = [u.name for u in self.units] + list(self.entries())
                hint = did_you_mean(name, known) or f"stacks of {self.file}: {', '.join(known)}"
                problems.append(Diagnostic(f"no stack {name!r} in the workspace", file=self.file, hint=hint))
            wanted |= found
        if problems:
            raise ConfigError(problems)
        return tuple(u for u in self.units if u.name in wanted)


def _unit(entry_name: str, entry: Entry, env_name: str | None, env: Environment | None) -> Unit:
    own = env or entry
    return Unit(
        name=f"{entry_name}/{env_name}" if env_name else entry_name, entry=entry_name, environment=env_name,
        path=entry.path, stack=own.stack or "", var_files=(entry.var_files + env.var_files) if env else entry.var_files,
        api_url=own.api_url or entry.api_url, api_url_env=own.api_url_env or entry.api_url_env,
        api_key_env=own.api_key_env or entry.api_key_env, when_modified=entry.when_modified,
    )


def _entry_units(doc: Document, name: str, entry: Entry) -> tuple[list[Unit], list[Diagnostic]]:
    at: YamlPath = ("stacks", name)
    if entry.environments and entry.stack:
        return [], [diagnostic(doc.key_pos(at + ("stack",)), at, "`stack:` belongs to each environment here",
                               "give every environment its own stack name, so they never own each other's objects")]
    if not entry.environments and not entry.stack:
        return [], [diagnostic(doc.key_pos(at), at, "a stack needs `stack:` (or `environments:`, each with `stack:`)",
                               "the stack name comes from the workspace, never from a shared base alone")]
    if not entry.environments:
        return [_unit(name, entry, None, None)], []
    return [_unit(name, entry, env_name, env) for env_name, env in entry.environments.items()], []


def _duplicates(units: list[Unit], doc: Document) -> list[Diagnostic]:
    """Two units with one stack name on one API would own (and delete) each other's objects."""
    seen: dict[tuple[str, str], str] = {}
    out = []
    for unit in units:
        key = (unit.stack, unit.url_source())
        if key in seen:
            out.append(diagnostic(doc.key_pos(("stacks", unit.entry)), ("stacks", unit.entry),
                                  f"{unit.name} and {seen[key]} are both stack {unit.stack!r} on {key[1]}",
                                  "give each environment its own stack name (or API)"))
        seen.setdefault(key, unit.name)
    return out


PATTERN_WORDS = {
    "api_url_env": "must name a variable METORIAL_… (a variable a merge-request author can write, such as a "
                   "commit title, must never choose where the API key is sent)",
    "api_key_env": "must be an environment variable name (A-Z, 0-9, _)",
    "stack": "a stack name is letters, digits, `_`, `.` and `-` (at most 64, first a letter or digit)",
    "[key]": "a stack or environment name is lower-case letters, digits, `_` and `-` (at most 63)",
}


def _validation(exc: ValidationError, doc: Document) -> list[Diagnostic]:
    out = []
    for error in exc.errors(include_input=False):
        path = tuple(p for p in error["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        if error["type"] == "string_pattern_mismatch" and path and path[-1] in PATTERN_WORDS:
            where = path[:-1] if path[-1] == "[key]" else path
            pos = doc.key_pos(where) if path[-1] == "[key]" else doc.value_pos(path)
            out.append(diagnostic(pos, where, PATTERN_WORDS[str(path[-1])]))
        elif error["type"] == "extra_forbidden":
            out.append(diagnostic(doc.key_pos(path), path[:-1], f'unknown field "{path[-1]}"'))
        elif error["type"] == "missing":
            out.append(diagnostic(doc.key_pos(path[:-1]), path[:-1], f'missing required field "{path[-1]}"'))
        else:
            out.append(diagnostic(doc.value_pos(path), path, str(error["msg"]).removeprefix("Value error, ")))
    return out


def parse_workspace(text: str, file: str) -> Workspace:
    """The workspace file's text → Workspace; raises ConfigError naming file, line and path."""
    doc = parse_yaml(text, file)
    if not isinstance(doc.data, dict):
        raise ConfigError([Diagnostic("a workspace file is a mapping (workspace:, stacks:)", file=file, line=1)])
    if doc.data.get("version", WORKSPACE_VERSION) != WORKSPACE_VERSION:
        raise ConfigError([diagnostic(doc.value_pos(("version",)), ("version",),
                                      f"workspace file version {doc.data.get('version')!r} is not supported "
                                      f"(this metorial-apply reads version {WORKSPACE_VERSION})")])
    try:
        model = WorkspaceFile.model_validate(doc.data)
    except ValidationError as exc:
        raise ConfigError(_validation(exc, doc)) from None
    units: list[Unit] = []
    problems: list[Diagnostic] = []
    for name, entry in model.stacks.items():
        found, wrong = _entry_units(doc, name, entry)
        units += found
        problems += wrong
    problems += _duplicates(units, doc)
    if problems:
        raise ConfigError(problems)
    return Workspace(name=model.workspace, file=file, units=tuple(units))


def glob_pattern(glob: str) -> re.Pattern[str]:
    """A `when_modified` glob as a regex over POSIX paths: `*` and `?` stay within a directory,
    `**` spans any number of them."""
    out, i = "", 0
    while i < len(glob):
        if glob.startswith("**/", i):
            out, i = out + "(?:.*/)?", i + 3
        elif glob.startswith("**", i):
            out, i = out + ".*", i + 2
        else:
            out += {"*": "[^/]*", "?": "[^/]"}.get(glob[i], re.escape(glob[i]))
            i += 1
    return re.compile(out + r"\Z")


def is_changed(unit: Unit, changed: Iterable[str], inputs: Mapping[str, frozenset[str]], workspace_file: str) -> bool:
    """Whether any changed path (POSIX, relative to the workspace) touches the unit: its config
    files, its var files, the workspace file, its `when_modified` globs or a `${file:}` it reads
    (`inputs`: unit name → those files)."""
    globs = [glob_pattern(g) for g in unit.when_modified]
    mine = set(unit.var_files) | inputs.get(unit.name, frozenset()) | {workspace_file}
    root = unit.path.rstrip("/") + "/"
    return any(path in mine or path == unit.path or path.startswith(root) or any(g.match(path) for g in globs)
               for path in changed)


FILE_INPUT = re.compile(r"(?<!\$)\$\{file:([^}]+)\}")


def file_inputs(text: str) -> list[str]:
    """The paths a YAML text reads with `${file:PATH}` (not `$${file:…}`, a literal), as written."""
    return [m.group(1).strip() for m in FILE_INPUT.finditer(text)]


def workspace_schema() -> dict[str, Any]:
    """The JSON Schema of the workspace file (schemas/metorial-apply-workspace.schema.json)."""
    schema = WorkspaceFile.model_json_schema()
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "metorial-apply workspace",
        "description": f"{WORKSPACE_FILE} at a repository's root: every stack of the repository and the "
                       "environments each is planned for. Paths are relative to this file.",
    } | {k: v for k, v in schema.items() if k != "title"}
