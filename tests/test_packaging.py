"""Packaging: the wheel carries the task YAML (tasks/ → harness/_tasks) and the JSON Schemas, and a harness installed
from it (not editable, in a fresh venv, run from outside the repository) finds every benchmark and suite."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

from conftest import REPO
from harness import config

BENCHMARKS = sorted(p.stem for p in (REPO / "tasks" / "benchmarks").glob("*.yaml"))
SUITES = sorted(p.stem for p in (REPO / "tasks" / "suites").glob("*.yaml"))
SOURCES = ["harness", "tasks", "pyproject.toml", "setup.py", "MANIFEST.in", "README.md"]


def _run(cmd: list, **kw) -> subprocess.CompletedProcess:
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=300, **kw)
    assert r.returncode == 0, f"{' '.join(map(str, cmd))}\n{r.stdout}\n{r.stderr}"
    return r


def _offline_build_backend() -> bool:
    try:
        import setuptools.command.bdist_wheel  # noqa: F401
    except ImportError:
        try:
            import wheel  # noqa: F401
        except ImportError:
            return False
    return True


def _listed(output: str, title: str) -> set[str]:
    """Names in the first column of the rich table titled `title` in `harness list` output."""
    names, current = set(), None
    for line in output.splitlines():
        if line.strip() in ("benchmarks", "suites"):
            current = line.strip()
            continue
        m = re.match(r"^\s*[│|┃]\s*(\S+)\s*[│|┃]", line)
        if m and current == title and m.group(1) != "name":
            names.add(m.group(1))
    return names


def test_tasks_dir_is_the_checkout_here_and_the_variable_overrides(monkeypatch, tmp_path):
    monkeypatch.delenv("HARNESS_TASKS_DIR", raising=False)
    assert config.tasks_dir() == REPO / "tasks"  # the source checkout (an editable install) has no harness/_tasks
    assert not config.PACKAGED_TASKS.exists()
    monkeypatch.setenv("HARNESS_TASKS_DIR", str(tmp_path))
    assert config.tasks_dir() == tmp_path


def test_wheel_install_lists_every_benchmark_and_suite(tmp_path):
    # build from a copy, so that the build leaves nothing (build/, *.egg-info) in the checkout
    src = tmp_path / "src"
    for name in SOURCES:
        if (REPO / name).is_dir():
            shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            src.mkdir(exist_ok=True)
            shutil.copy2(REPO / name, src / name)
    dist = tmp_path / "dist"
    # offline with this venv's setuptools when it can write wheels (setuptools >= 70.1, or the wheel package); else
    # pip fetches the build backend from PyPI into an isolated build environment
    offline = ["--no-build-isolation", "--no-index"] if _offline_build_backend() else []
    _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", *offline, "-w", dist, src])
    (wheel,) = dist.glob("harness-*.whl")
    files = set(zipfile.ZipFile(wheel).namelist())
    for rel in (REPO / "tasks").rglob("*.yaml"):
        assert f"harness/_tasks/{rel.relative_to(REPO / 'tasks').as_posix()}" in files, rel
    for schema in (REPO / "harness" / "schemas").glob("*.json"):
        assert f"harness/schemas/{schema.name}" in files, schema.name
    for asset in ("view.html", "view.js", "view.css"):  # `harness view` inlines them into the page it writes
        assert f"harness/report/{asset}" in files, asset

    # a fresh venv; the wheel installed without its dependencies, which come from this venv's site-packages through
    # a plain path line (a .pth line is not a site dir: this venv's editable-install hook is not run)
    venv = tmp_path / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", venv])
    py = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", py, "install", "-q", "--no-deps", "--no-index", wheel])
    site = Path(_run([py, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"]).stdout.strip())
    (site / "_project_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("HARNESS_TASKS_DIR", "PYTHONPATH", "HARNESS_DATA_DIR")}
    env.update(COLUMNS="300", PYTHONIOENCODING="utf-8")
    where = _run([py, "-c", "import harness, harness.config as c; print(harness.__file__); print(c.tasks_dir())"],
                 cwd=elsewhere, env=env).stdout.split()
    assert Path(where[0]).is_relative_to(venv), where  # the installed wheel, not the checkout
    assert Path(where[1]) == site / "harness" / "_tasks"

    out = _run([venv / "bin" / "harness", "list"], cwd=elsewhere, env=env).stdout
    assert sorted(_listed(out, "benchmarks")) == BENCHMARKS, out
    assert sorted(_listed(out, "suites")) == SUITES, out
    assert "does not exist" not in out and "unknown" not in out
    _run([py, "-c", "from harness.report.view import _asset; assert 'harnessView' in _asset('view.js')"], cwd=elsewhere,
         env=env)
