"""`metorial-apply export` through the CLI against a real `emulator serve`: an organization made
by hand exports without a single secret in any file or output, `.env.example` lists every
placeholder, and a stack exported with `--stack` plans empty against what it was exported from."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.cli.handmade import make_organization
from tests.cli.runner import run
from tests.emulator_server import SECRET_KEY, EmulatorProcess

CANARY = "export-canary-7f3e"
PLACEHOLDER = re.compile(r"(?<!\$)\$\{env:([A-Za-z0-9_]+)\}")


def api(server: EmulatorProcess) -> list[str]:
    return ["--api-url", server.url, "--api-key", SECRET_KEY]


def env_example(out: Path) -> dict[str, str]:
    """`.env.example` → variable → the comment above it ("address field")."""
    lines = (out / ".env.example").read_text(encoding="utf-8").splitlines()
    return {line.removesuffix("="): lines[i - 1].removeprefix("# ") for i, line in enumerate(lines)
            if not line.startswith("#")}


def test_a_handmade_organization_exports_without_secrets(emulator: EmulatorProcess, tmp_path: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    org = make_organization(emulator.url, CANARY)
    assert org.count >= 50 and len(org.ids) == 6
    out = tmp_path / "export"
    code, stdout, stderr = run(capsys, "export", "--out", str(out), *api(emulator))
    assert code == 0, stderr
    files = sorted(p for p in out.rglob("*") if p.is_file())
    assert [p.name for p in files] == [".env.example", "stack.yaml"]
    for text in [stdout, stderr, *(p.read_text(encoding="utf-8") for p in files)]:
        assert CANARY not in text and not any(secret in text for secret in org.secrets)
    doc = yaml.safe_load((out / "stack.yaml").read_text(encoding="utf-8"))
    imported = {i["id"] for i in doc["imports"]}
    made = {i for ids in org.ids.values() for i in ids}
    # Everything made by hand, nothing the platform made on its own (default deployments, the
    # template's default config).
    assert imported == made and not imported & set(org.default_configs)
    assert f"Exported {len(made)} unmanaged resources" in stdout
    listed = env_example(out)
    assert set(PLACEHOLDER.findall((out / "stack.yaml").read_text(encoding="utf-8"))) == set(listed)
    # One placeholder per planted secret (vault, config and auth values; credential id and secret),
    # each saying which resource field it feeds.
    ids = {i["to"]: i["id"] for i in doc["imports"]}
    feeds = [tuple(comment.split(" ")) for comment in listed.values()]
    assert sorted((ids[address], path) for address, path in feeds) == sorted(org.values)
    assert all(re.fullmatch(r"[A-Z_][A-Z0-9_]*", name) for name in listed)


def test_the_export_is_valid_yaml_of_our_language(emulator: EmulatorProcess, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Without `imports:` (another branch's syntax) the export validates online: every reference,
    provider, method and version resolves."""
    make_organization(emulator.url, CANARY, scale=4)
    out = tmp_path / "export"
    assert run(capsys, "export", "--out", str(out), *api(emulator))[0] == 0
    config = out / "stack.yaml"
    config.write_text(config.read_text(encoding="utf-8").split("imports:\n")[0], encoding="utf-8")
    for name in env_example(out):
        monkeypatch.setenv(name, f"{CANARY}-value")
    code, stdout, stderr = run(capsys, "validate", str(out), "--online", *api(emulator))
    assert code == 0, stdout + stderr


STACK = """
stack: shop
deployments:
  github:
    provider: github
    description: "${env:SHOP_DESCRIPTION}"
    metadata: {team: support}
    tools: [list_issues, {tool_regex: "^get_"}]
    protect: true
  linear: {provider: linear, version: "1.0.0", name: "Linear (prod)"}
config_vaults:
  shared: {provider: github, value: {base_url: "${env:SHOP_VAULT}"}}
configs:
  github-prod: {deployment: github, value: {base_url: "${env:SHOP_CONFIG}"}, tools: [{tool_regex: "^list_"}]}
  from-vault: {vault: shared}
auth_configs:
  github-token: {deployment: github, method: token, value: {token: "${env:SHOP_TOKEN}"}}
auth_credentials:
  app: {provider: github, client_id: "${env:SHOP_CLIENT_ID}", client_secret: "${env:SHOP_SECRET}", scopes: [repo]}
session_templates:
  support:
    description: support sessions
    providers:
      - {deployment: github, config: github-prod, auth_config: github-token, tools: [get_issue]}
"""
SECRETS = {  # what each exported placeholder feeds → the value the stack was applied with
    "deployment.github description": ("SHOP_DESCRIPTION", f"{CANARY}-description"),
    "config_vault.shared value.base_url": ("SHOP_VAULT", f"https://{CANARY}-vault.example.com"),
    "config.github-prod value.base_url": ("SHOP_CONFIG", f"https://{CANARY}-config.example.com"),
    "auth_config.github-token value.token": ("SHOP_TOKEN", f"{CANARY}-token"),
    "auth_credentials.app client_id": ("SHOP_CLIENT_ID", f"{CANARY}-client-id"),
    "auth_credentials.app client_secret": ("SHOP_SECRET", f"{CANARY}-client-secret"),
}


def test_a_managed_stack_round_trips_to_an_empty_plan(emulator: EmulatorProcess, tmp_path: Path,
                                                      capsys: pytest.CaptureFixture[str],
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    source = tmp_path / "source"
    source.mkdir()
    (source / "stack.yaml").write_text(STACK, encoding="utf-8")
    for name, value in SECRETS.values():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("METORIAL_APPLY_LOCK_SKEW", "0")  # one emulator, one clock
    code, _, stderr = run(capsys, "apply", str(source), "--auto-approve", *api(emulator))
    assert code == 0, stderr
    make_organization(emulator.url, CANARY, scale=2)  # unmanaged neighbours stay out of a stack export
    out = tmp_path / "export"
    code, stdout, stderr = run(capsys, "export", "--stack", "shop", "--out", str(out), *api(emulator))
    assert code == 0, stderr
    exported = (out / "stack.yaml").read_text(encoding="utf-8")
    assert CANARY not in exported + stdout + stderr and "imports:" not in exported
    assert set(yaml.safe_load(exported)["deployments"]) == {"github", "linear"}
    listed = env_example(out)
    assert sorted(listed.values()) == sorted(SECRETS)
    for name, feeds in listed.items():
        monkeypatch.setenv(name, SECRETS[feeds][1])
    code, stdout, stderr = run(capsys, "plan", str(out), "--detailed-exitcode", *api(emulator))
    assert code == 0, stdout + stderr
    assert "No changes." in stdout
    # The same plan with one secret different is not empty: the comparison is real.
    monkeypatch.setenv(next(n for n, f in listed.items() if f.startswith("config.")), "https://other.example.com")
    assert run(capsys, "plan", str(out), "--detailed-exitcode", *api(emulator))[0] == 3


def test_a_non_empty_directory_is_refused_unless_forced(emulator: EmulatorProcess, tmp_path: Path,
                                                        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export"
    out.mkdir()
    (out / "stack.yaml").write_text("mine\n", encoding="utf-8")
    (out / "notes.txt").write_text("keep\n", encoding="utf-8")
    before = emulator.stats()["calls"]
    code, _, stderr = run(capsys, "export", "--out", str(out), *api(emulator))
    assert code == 1 and "is not empty" in stderr and "--force" in stderr
    assert (out / "stack.yaml").read_text(encoding="utf-8") == "mine\n"
    assert emulator.stats()["calls"] == before  # refused before anything was read
    code, _, stderr = run(capsys, "export", "--out", str(out), "--force", *api(emulator))
    assert code == 0, stderr
    assert (out / "stack.yaml").read_text(encoding="utf-8").startswith("# Written by")
    assert (out / "notes.txt").read_text(encoding="utf-8") == "keep\n"
    assert sorted(p.name for p in out.iterdir()) == [".env.example", "notes.txt", "stack.yaml"]


def test_a_failed_read_leaves_no_directory(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "export"
    code, _, stderr = run(capsys, "export", "--out", str(out), "--api-url", "http://127.0.0.1:9",
                          "--api-key", SECRET_KEY, "--max-wait", "0")
    assert code == 1 and stderr.startswith("Error: ") and "Traceback" not in stderr
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_stack_and_unmanaged_exclude_each_other(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, stderr = run(capsys, "export", "--stack", "a", "--unmanaged", "--out", str(tmp_path / "x"))
    assert code == 64 and "exclude each other" in stderr
    code, _, stderr = run(capsys, "export", "--as-stack", "no good", "--out", str(tmp_path / "x"))
    assert code == 64 and "not a valid stack name" in stderr


def test_a_failed_write_leaves_nothing_behind(emulator: EmulatorProcess, tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str],
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    write = Path.write_text

    def full_disk(self: Path, text: str, *args: object, **kw: object) -> int:
        if self.name == "stack.yaml":  # the second file: the first is already on disk
            raise OSError(28, "No space left on device")
        return write(self, text, *args, **kw)  # type: ignore[arg-type]

    monkeypatch.setattr(Path, "write_text", full_disk)
    work = tmp_path / "work"
    work.mkdir()
    code, _, stderr = run(capsys, "export", "--out", str(work / "export"), *api(emulator))
    assert code == 1 and "No space left on device; nothing was written" in stderr
    assert list(work.iterdir()) == []  # neither DIR nor the staging directory
