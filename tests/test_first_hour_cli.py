"""The first hour as a new user (issue 16, items 3-7): failures that look like success, bad options, partial runs,
help, and the first scorecard. Every case runs the real `harness` command in a subprocess (the way a user meets
it: its exit status, its stderr, what it leaves on disk) against real `python -m harness.serve` processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import FIXTURES, REPO, SHARED_DATA
from harness.engine.vllm import reserve_port

HARNESS = [sys.executable, "-m", "harness.cli"]


def harness(*args: str, env: dict | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([*HARNESS, *args], cwd=REPO, env={**os.environ, "COLUMNS": "200", **(env or {})},
                          capture_output=True, text=True, timeout=timeout)


def run_dirs(tmp_path: Path) -> list[Path]:
    root = tmp_path / "results"
    return sorted(root.iterdir()) if root.exists() else []


def one_error_line(r: subprocess.CompletedProcess) -> str:
    """The one `error:` line of a refused command: exit 2, no traceback, no aiohttp noise."""
    assert r.returncode == 2, r.stdout + r.stderr
    errors = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert len(errors) == 1, r.stderr
    for noise in ("Traceback", "Unclosed client session", "Unclosed connector", "ValidationError"):
        assert noise not in r.stdout + r.stderr, r.stderr
    return errors[0]


# ---- 3. every request of a benchmark failed ------------------------------------------------------------------------

def test_every_request_failing_exits_2_naming_the_first_error_in_output_and_scorecard(tmp_path, scripted_server):
    with scripted_server(model="served-model") as server:
        wrong = harness("run", "--engine", "openai", "--model", "wrong-name", "--base-url", server.base_url,
                        "--benchmarks", "ifeval", "--limit", "2", "--max-tokens", "16", "--no-progress")
        no_v1 = harness("run", "--engine", "openai", "--model", "served-model",
                        "--base-url", server.base_url.removesuffix("/v1"), "--benchmarks", "ifeval", "--limit", "2",
                        "--max-tokens", "16", "--no-progress")
    line = one_error_line(wrong)
    assert "ifeval: every request failed (2 of 2)" in line and "model 'wrong-name' not served" in line, line
    assert "--served-model-name" in line and "re-run the same command" in line
    runs = {p.name.split("__")[0]: p for p in run_dirs(tmp_path)}
    summary = json.loads((runs["wrong-name"] / "summary.json").read_text())
    reason = summary["benchmarks"]["ifeval"]["invalid_reason"]
    assert reason.startswith("every request failed (2 of 2); first error: HTTP 404") and "wrong-name" in reason
    assert "every request failed" in wrong.stdout  # the scorecard says it too, not only samples.jsonl

    line = one_error_line(no_v1)
    assert "every request failed (2 of 2); first error: HTTP 404" in line and "ends in /v1" in line, line


# ---- 4. bad options, failed starts, role engines -------------------------------------------------------------------

def test_a_misspelt_engine_is_one_error_line(tmp_path):
    line = one_error_line(harness("run", "--engine", "vlm", "--benchmarks", "ifeval", "--limit", "1"))
    assert "--engine 'vlm'" in line and "'vllm'" in line
    assert run_dirs(tmp_path) == []


def test_a_model_path_that_does_not_exist_says_so_and_leaves_no_run_directory(tmp_path):
    line = one_error_line(harness("run", "--model", str(tmp_path / "no" / "such" / "model"), "--benchmarks", "ifeval",
                                  "--limit", "1", "--no-progress"))
    assert "no such file or directory" in line and "Repo id" not in line, line
    assert run_dirs(tmp_path) == []


def test_an_unreachable_endpoint_leaves_no_run_directory_and_no_unclosed_session(tmp_path):
    url = f"http://127.0.0.1:{reserve_port()}/v1"  # nothing listens there
    line = one_error_line(harness("run", "--engine", "openai", "--model", "m", "--base-url", url,
                                  "--benchmarks", "ifeval", "--limit", "1", "--no-progress"))
    assert f"cannot reach {url}" in line and "--base-url" in line
    assert run_dirs(tmp_path) == []


def test_an_earlier_run_directory_is_kept_when_a_resume_cannot_start(tmp_path, scripted_server):
    out = tmp_path / "results" / "kept"
    with scripted_server() as server:
        r = harness("run", "--engine", "openai", "--model", server.model, "--base-url", server.base_url,
                    "--benchmarks", "mmlu_pro", "--limit", "2", "--max-tokens", "16", "--out", str(out),
                    "--no-progress")
        assert r.returncode in (0, 3), r.stderr
        url = server.base_url
    one_error_line(harness("run", "--engine", "openai", "--model", "scripted-model", "--base-url", url,
                           "--benchmarks", "mmlu_pro", "--limit", "3", "--max-tokens", "16", "--out", str(out),
                           "--no-progress"))
    assert (out / "manifest.json").exists() and (out / "generations.jsonl").stat().st_size > 0


def test_a_user_simulator_is_contacted_only_by_a_benchmark_that_needs_one_and_its_failure_blames_it(
        tmp_path, scripted_server):
    dead = f"openai:sim@http://127.0.0.1:{reserve_port()}/v1"
    with scripted_server() as server:
        base = ["--engine", "openai", "--model", server.model, "--base-url", server.base_url, "--limit", "1",
                "--max-tokens", "16", "--no-progress", "--user-sim", dead]
        plain = harness("run", "--benchmarks", "mmlu_pro", *base)
        tau2 = harness("run", "--benchmarks", "tau2_telecom", *base)
    assert plain.returncode in (0, 3), plain.stderr  # ran: the user simulator was never asked
    assert "note: --user-sim is not used" in plain.stderr and "cannot reach" not in plain.stderr
    line = one_error_line(tau2)
    assert line.startswith("error: --user-sim: cannot reach") and "Check --user-sim" in line, line
    assert "--base-url" not in line


def test_generated_array_jobs_pass_judge_and_user_sim_only_to_the_tasks_that_use_them(tmp_path):
    from harness.jobs import slurm
    from harness.jobs.spec import JobSpec

    spec = JobSpec(name="c13", results=str(tmp_path / "results"), harness="echo", workdir=str(REPO),
                   run={"suite": "common13", "model": "/models/m", "engine": "vllm", "tool_call_parser": "hermes"},
                   shards={"by_benchmark": True},
                   judge={"mode": "external", "model": "j", "url": "http://judge:8000/v1"},
                   user_sim={"mode": "external", "model": "u", "url": "http://sim:8000/v1"})
    slurm.write(spec, tmp_path / "job")
    given = {}
    for task in range(13):  # the generated script, executed: HARNESS=(echo) prints the command each task runs
        r = subprocess.run(["bash", str(tmp_path / "job" / "run.sbatch")], capture_output=True, text=True,
                           env={**os.environ, "SLURM_ARRAY_TASK_ID": str(task)}, timeout=60)
        assert r.returncode == 0, r.stderr
        bench = r.stdout.split("suite-")[1].split(".yaml")[0]
        given[bench] = {f for f in ("--judge", "--user-sim") if f" {f} " in r.stdout}
    assert given["hle"] == given["aa_lcr"] == {"--judge"} and given["tau2_telecom"] == {"--user-sim"}
    assert all(not v for k, v in given.items() if k not in ("hle", "aa_lcr", "tau2_telecom")), given
    assert len(given) == 13


# ---- 5. partial runs ----------------------------------------------------------------------------------------------

def test_a_killed_run_has_a_scorecard_points_and_report_marked_incomplete_and_its_resume_says_what_it_found(
        tmp_path, scripted_server):
    out = tmp_path / "results" / "partial"
    with scripted_server("--latency", "0.5") as server:
        args = ["run", "--engine", "openai", "--model", server.model, "--base-url", server.base_url,
                "--benchmarks", "mmlu_pro", "--limit", "6", "--max-tokens", "16", "--concurrency", "1",
                "--out", str(out), "--no-progress"]
        proc = subprocess.Popen([*HARNESS, *args], cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        gens = out / "generations.jsonl"
        for _ in range(1200):  # until two answers are on disk (polled, no timing assumption)
            if gens.exists() and len(gens.read_text().splitlines()) >= 2:
                break
            proc.poll()
            assert proc.returncode is None, proc.communicate()
            time.sleep(0.1)
        # SIGKILL to the run and its scoring workers: no handler runs, no summary.json is written (a lost node)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        assert not (out / "summary.json").exists()
        answered = len(gens.read_text().splitlines())
        created = json.loads((out / "manifest.json").read_text())["created"]

        s = harness("summary", str(out))
        assert s.returncode == 0, s.stderr
        assert f"incomplete run: {answered} of 6 items answered" in s.stdout and "stopped before writing" in s.stdout
        p = harness("points", "--results", str(out), "--json", str(tmp_path / "points.json"))
        assert p.returncode == 0, p.stderr
        assert json.loads((tmp_path / "points.json").read_text())["complete"] is False
        r = harness("report", str(out), "--out", str(tmp_path / "report.md"))
        assert r.returncode == 0, r.stderr
        assert f"incomplete: {answered} of 6 items generated" in (tmp_path / "report.md").read_text()

        resumed = harness(*args)
    assert resumed.returncode in (0, 3), resumed.stderr
    line = next(ln for ln in resumed.stderr.splitlines() if ln.startswith("resuming "))
    assert line == (f"resuming {out}: found {answered} of 6 items answered (mmlu_pro {answered}/6); "
                    f"left: {6 - answered} to generate"), line
    m = json.loads((out / "manifest.json").read_text())
    assert m["created"] == created and len(m["resumed"]) == 1
    assert m["resumed"][0]["found"] == {"mmlu_pro": answered}
    assert m["resumed"][0]["left"]["mmlu_pro"]["generate"] == 6 - answered
    assert json.loads((out / "summary.json").read_text())["complete"] is True
