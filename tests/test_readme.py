"""README's YAML example is real: it validates offline and online against the emulator."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from metorial_apply.cli import main

ROOT = Path(__file__).resolve().parents[1]
CANARY = "readme-canary-secret-41d2"


def readme_yaml() -> str:
    blocks = re.findall(r"```yaml\n(.*?)```", (ROOT / "README.md").read_text(encoding="utf-8"), re.S)
    assert blocks, "README has no YAML example"
    return blocks[0]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    with pytest.raises(SystemExit) as info:
        main(args)
    out = capsys.readouterr()
    return int(info.value.code or 0), out.out + out.err


def test_readme_example_validates_online(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "stack.yaml").write_text(readme_yaml(), encoding="utf-8")
    (tmp_path / "secrets").mkdir()
    (tmp_path / "secrets" / "github-api-url").write_text(f"https://{CANARY}.example.com\n", encoding="utf-8")
    for name in ("GITHUB_API_URL", "GH_CLIENT_ID", "GH_CLIENT_SECRET", "GH_APP_ID", "GH_APP_SECRET"):
        monkeypatch.setenv(name, f"https://{CANARY}.example.com" if name == "GITHUB_API_URL" else CANARY)
    monkeypatch.delenv("METORIAL_API_KEY", raising=False)
    code, output = run(["validate", str(tmp_path)], capsys)
    assert code == 0, output
    code, output = run(["validate", str(tmp_path), "--online", "--api-url", "local"], capsys)
    assert code == 0, output
    assert "Valid: 6 resources in stack production" in output and CANARY not in output
