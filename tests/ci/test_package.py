"""The package as a user installs it (issue 23 item 3): a wheel built from this checkout,
installed into a fresh virtualenv, runs its commands with every data file it needs (the
emulator's catalog), importing nothing from the checkout."""

from __future__ import annotations

import shutil
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def source_tree(dest: Path) -> Path:
    """The checkout's tracked files alone: a build in the checkout itself would reuse what an
    earlier build or editable install left there (build/, *.egg-info) and hide a packaging bug."""
    listed = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, timeout=60)
    for name in filter(None, listed.stdout.decode().split("\0")):
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)
    return dest


def build_wheel(dist: Path) -> Path:
    source = source_tree(dist.parent / "source")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(dist), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    return next(dist.glob("metorial_apply-*.whl"))


def test_the_wheel_installs_and_runs_the_quickstart_in_a_fresh_venv(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "dist")
    names = zipfile.ZipFile(wheel).namelist()
    assert "metorial_apply/emulator/catalog_data.json" in names and "metorial_apply/py.typed" in names
    assert not any(n.startswith(("tests/", "benchmarks/", "examples/")) for n in names)
    # Its dependencies come from this interpreter's site-packages (no network in tests); the
    # package itself only from the wheel.
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=False)
    python = env_dir / "bin" / "python"
    subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "-q", str(wheel)],
                   check=True, capture_output=True, timeout=300)
    where = subprocess.run([str(python), "-c", "import metorial_apply; print(metorial_apply.__file__)"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=60)
    assert where.stdout.startswith(str(env_dir)), where.stdout + where.stderr
    quickstart = tmp_path / "quickstart"
    quickstart.mkdir()
    (quickstart / "stack.yaml").write_text((ROOT / "examples" / "quickstart" / "stack.yaml").read_text())
    run = subprocess.run([str(env_dir / "bin" / "metorial-apply"), "apply", str(quickstart), "--api-url", "local",
                          "--auto-approve"], capture_output=True, text=True, cwd=tmp_path, timeout=120,
                         env={"PATH": "/usr/bin:/bin", "CI": "1", "HOME": str(tmp_path)})
    assert run.returncode == 0, run.stdout[-2000:] + run.stderr[-2000:]
    assert "4 done, 0 failed" in run.stdout
