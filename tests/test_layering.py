"""Layering: the runner and the two stages know benchmarks, engines and the store, nothing of jobs, reports, lm-eval
or the CLI (those are handed in: progress, shards, plug-ins)."""

from __future__ import annotations

import ast
import subprocess
import sys

from conftest import REPO

CORE = ("runner", "generate", "score", "summary", "store", "records", "rescore")
FORBIDDEN = ("harness.jobs", "harness.report", "harness.lmeval", "harness.lmms", "harness.cli")


def _imports(path) -> set[str]:
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
    return out


def test_core_modules_do_not_import_jobs_reports_lmeval_or_cli():
    for name in CORE:
        bad = sorted(i for i in _imports(REPO / "harness" / f"{name}.py") if i.startswith(FORBIDDEN))
        assert not bad, f"harness/{name}.py imports {bad}"


def test_importing_and_planning_a_run_loads_none_of_them():
    code = ("import sys; import harness.runner as r; from harness.config import ModelSpec, SuiteEntry; "
            "r.plan_benchmarks([SuiteEntry(name='mmlu_pro')], ModelSpec(), limit=2); "
            f"print(sorted(m for m in sys.modules if m.startswith({FORBIDDEN!r})))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "[]"
