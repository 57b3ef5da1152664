"""Runner, store and CLI: resume after kill -9, torn and corrupt records, settings drift, bad input, statistics."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import SHARED_DATA, mmlu_ids, read_samples, run_benchmarks
from harness.cli import app
from harness.config import GenerationParams, ModelSpec, Thresholds
from harness.errors import ConfigError, DataError
from harness.summary import summarize_items as summarize_benchmark
from harness.store import RunStore

cli = CliRunner()
GEN = GenerationParams(max_tokens=12, temperature=0.0)


def _responses(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# ---- resume -------------------------------------------------------------------------------------------------------

def test_kill_9_mid_run_then_same_command_resumes_without_loss_or_duplicates(tmp_path, scripted_server):
    n = 120
    with scripted_server("--latency", "0.05") as srv:
        cmd = [sys.executable, "-m", "harness.cli", "run", "--benchmarks", "mmlu_pro", "--engine", "openai",
               "--model", srv.model, "--base-url", srv.base_url, "--limit", str(n), "--concurrency", "4",
               "--max-tokens", "8", "--no-progress", "--out", str(tmp_path / "run")]
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples = tmp_path / "run" / "generations.jsonl"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if samples.exists() and samples.read_text().count("\n") >= 20:
                break
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        before = read_samples(tmp_path / "run")
        assert 20 <= len(before) < n, "the kill must land mid-run"
        # a write torn by the kill looks like this; resume must cut it off, not choke on it
        with open(samples, "a") as f:
            f.write('{"benchmark": "mmlu_pro", "sample_id": "trunc')
        done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "dropped a torn last line" in done.stderr
    recs = read_samples(tmp_path / "run")
    keys = [(r["sample_id"], r["repeat"]) for r in recs]
    assert len(keys) == len(set(keys)) == n  # nothing lost, nothing duplicated
    gen = ("sample_id", "repeat", "response", "time")
    assert [[r[k] for k in gen] for r in recs[: len(before)]] == [[r[k] for k in gen] for r in before]  # untouched
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["complete"] and summary["benchmarks"]["mmlu_pro"]["n"] == n


def test_rerun_of_finished_run_does_no_work_and_more_repeats_only_add(tmp_path, scripted_server):
    with scripted_server() as srv:
        spec = ModelSpec(engine="openai", model=srv.model, base_url=srv.base_url)
        out = tmp_path / "run"
        run_benchmarks(spec, out, limit=4, generation=GEN)
        first = read_samples(out)
        run_benchmarks(spec, out, limit=4, generation=GEN)
        assert read_samples(out) == first
        summary = run_benchmarks(spec, out, limit=4, repeats=3, generation=GEN)
    recs = read_samples(out)
    assert recs[:4] == first and len(recs) == 12
    assert sorted({r["repeat"] for r in recs}) == [0, 1, 2]
    b = summary["benchmarks"]["mmlu_pro"]
    assert b["repeats"] == 3 and b["n"] == 4 and len(b["repeat_scores"]) == 3


def test_resume_with_other_generation_settings_is_refused(tmp_path, scripted_server):
    with scripted_server() as srv:
        spec = ModelSpec(engine="openai", model=srv.model, base_url=srv.base_url)
        out = tmp_path / "run"
        run_benchmarks(spec, out, limit=2, generation=GEN)
        with pytest.raises(ConfigError, match=r"generation.max_tokens was 12, now 99(.|\n)*new --out"):
            run_benchmarks(spec, out, limit=2, generation=GenerationParams(max_tokens=99, temperature=0.0))
    assert len(read_samples(out)) == 2


def test_corrupt_record_in_the_middle_is_named_and_nothing_is_rewritten(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    good = json.dumps({"benchmark": "mmlu_pro", "sample_id": "70", "repeat": 0, "score": 1.0, "error": None})
    text = good + "\n" + "{not json\n" + good.replace('"70"', '"71"') + "\n"
    (out / "generations.jsonl").write_text(text)
    with pytest.raises(DataError, match=r"generations.jsonl:2: corrupt record.*remove or fix line 2"):
        RunStore(out).open()
    assert (out / "generations.jsonl").read_text() == text


def test_two_processes_cannot_write_one_run(tmp_path):
    a = RunStore(tmp_path / "run")
    a.open()
    try:
        with pytest.raises(ConfigError, match="another harness process"):
            RunStore(tmp_path / "run").open()
    finally:
        a.close()


# ---- CLI and bad input ------------------------------------------------------------------------------------------

def test_unknown_benchmark_is_a_clear_error():
    r = cli.invoke(app, ["run", "--benchmarks", "mmlu_pro,mmlu_prox", "--engine", "replay", "--responses", "x"])
    assert r.exit_code == 2
    assert "unknown benchmark 'mmlu_prox'" in r.output and "known benchmarks:" in r.output


def test_missing_data_file_is_a_clear_error_before_any_server_starts(tmp_path):
    r = cli.invoke(app, ["run", "--benchmarks", "click", "--data", f"click={tmp_path / 'nope.jsonl'}",
                         "--engine", "vllm", "--vllm-executable", "/nonexistent/vllm"])
    assert r.exit_code == 2
    assert "click: --data path" in r.output and "does not exist" in r.output


def test_corrupt_data_file_names_the_line(tmp_path):
    bad = tmp_path / "click.jsonl"
    lines = (SHARED_DATA / "click" / "test.jsonl").read_text().splitlines()[:3]
    bad.write_text(lines[0] + "\n" + lines[1][:40] + "\n" + lines[2] + "\n")
    r = cli.invoke(app, ["run", "--benchmarks", "click", "--data", f"click={bad}", "--engine", "replay",
                         "--responses", str(bad)])
    assert r.exit_code == 2 and "click.jsonl:2: corrupt JSONL line" in r.output


def test_data_in_the_wrong_schema_is_a_clear_error(tmp_path):
    bad = tmp_path / "click.jsonl"
    bad.write_text(json.dumps({"id": "x", "question": "q"}) + "\n")
    r = cli.invoke(app, ["run", "--benchmarks", "click", "--data", f"click={bad}", "--engine", "replay",
                         "--responses", str(bad)])
    assert r.exit_code == 2 and "does not have the upstream schema" in r.output


def test_score_responses_scores_by_upstream_id(tmp_path):
    ids = mmlu_ids(6)
    rows = [{"sample_id": sid, "response": f"Reasoning... the answer is ({a})"} for sid, a in ids[:4]]
    rows += [{"sample_id": ids[4][0], "response": "I think it is A or maybe B. Answer: J"},
             {"sample_id": ids[5][0], "response": "no idea", "repeat": 0}]
    f = _responses(tmp_path / "resp.jsonl", rows)
    r = cli.invoke(app, ["score-responses", "--benchmark", "mmlu_pro", "--responses", str(f),
                         "--out", str(tmp_path / "scored")])
    assert r.exit_code == 3 and "invalid: mmlu_pro: unparsed_rate 16.7% > 10.0%" in r.output  # exit code: invalid
    summary = json.loads((tmp_path / "scored" / "summary.json").read_text())
    b = summary["benchmarks"]["mmlu_pro"]
    expected_j = 1.0 if ids[4][1] == "J" else 0.0
    assert b["n"] == 6 and b["items"] == 6
    assert b["score"] == pytest.approx(100 * (4 + expected_j) / 6, abs=1e-3)
    assert b["unparsed_rate"] == pytest.approx(1 / 6, abs=1e-4)
    recs = {r["sample_id"]: r for r in read_samples(tmp_path / "scored")}
    assert recs[ids[4][0]]["extracted"] == "J" and recs[ids[4][0]]["details"]["rule"] == "answer_colon"
    assert recs[ids[5][0]]["extracted"] is None and recs[ids[5][0]]["score"] == 0.0


def test_score_responses_rejects_unknown_ids_and_corrupt_lines(tmp_path):
    f = _responses(tmp_path / "resp.jsonl", [{"sample_id": "no-such-id", "response": "A"}])
    r = cli.invoke(app, ["score-responses", "--benchmark", "mmlu_pro", "--responses", str(f),
                         "--out", str(tmp_path / "o1")])
    assert r.exit_code == 2 and "not in mmlu_pro" in r.output and "'no-such-id'" in r.output

    f.write_text(json.dumps({"sample_id": "70", "response": "A"}) + "\n{oops\n")
    r = cli.invoke(app, ["score-responses", "--benchmark", "mmlu_pro", "--responses", str(f),
                         "--out", str(tmp_path / "o2")])
    assert r.exit_code == 2 and "resp.jsonl:2: not valid JSON" in r.output
    assert not (tmp_path / "o2" / "generations.jsonl").exists()


def test_score_responses_for_aime_and_click_with_repeats(tmp_path):
    rows = [{"sample_id": "0", "response": "so \\boxed{070}", "repeat": 0},
            {"sample_id": "0", "response": "so \\boxed{71}", "repeat": 1},
            {"sample_id": "1", "response": "The final answer is $\\boxed{588}$.", "repeat": 0},
            {"sample_id": "1", "response": "<think>maybe 1</think>\\boxed{588}", "repeat": 1}]
    f = _responses(tmp_path / "aime.jsonl", rows)
    r = cli.invoke(app, ["score-responses", "--benchmark", "aime2025", "--responses", str(f),
                         "--out", str(tmp_path / "aime")])
    assert r.exit_code == 0, r.output
    b = json.loads((tmp_path / "aime" / "summary.json").read_text())["benchmarks"]["aime2025"]
    assert b["score"] == 75.0 and b["repeats"] == 2 and b["n"] == 2 and b["repeat_scores"] == [100.0, 50.0]

    f = _responses(tmp_path / "click.jsonl", [{"sample_id": "KIIP_economy_1", "response": "풀이...\n정답: C"},
                                              {"sample_id": "KIIP_economy_2", "response": "정답은 (B)입니다."}])
    r = cli.invoke(app, ["score-responses", "--benchmark", "click", "--responses", str(f),
                         "--out", str(tmp_path / "click")])
    assert r.exit_code == 0, r.output
    recs = {r["sample_id"]: r for r in read_samples(tmp_path / "click")}
    assert recs["KIIP_economy_1"]["score"] == 1.0  # 2001년 is option C
    assert recs["KIIP_economy_2"]["score"] == 0.0 and recs["KIIP_economy_2"]["extracted"] == "B"


def test_list_shows_benchmarks_suites_and_local_data():
    r = cli.invoke(app, ["list"])
    assert r.exit_code == 0
    for name in ("mmlu_pro", "aime2025", "click", "smoke", "common13"):
        assert name in r.output


# ---- statistics ------------------------------------------------------------------------------------------------

def _rec(sid, rep, score, **kw):
    return {"benchmark": "b", "sample_id": sid, "repeat": rep, "score": score, "extracted": "A",
            "finish_reason": "stop", "error": None, **kw}


def test_summary_statistics_over_repeats():
    recs = [_rec("1", 0, 1.0), _rec("1", 1, 1.0), _rec("2", 0, 1.0), _rec("2", 1, 0.0),
            _rec("3", 0, 0.0), _rec("3", 1, 0.0), _rec("4", 0, 0.0), _rec("4", 1, 1.0)]
    s = summarize_benchmark(recs, 8, 2, Thresholds())
    # per-sample means 1, .5, 0, .5 → mean .5, sd .4082 → se .2041; t(3) = 3.182
    assert s["score"] == 50.0 and s["n"] == 4
    assert s["stderr"] == pytest.approx(20.41, abs=0.01)
    assert s["ci95"] == [0.0, 100.0]  # 50 ± 3.182 × 20.41, clipped to 0–100
    assert s["repeat_scores"] == [50.0, 50.0] and s["valid"]
    means = [1, 1, 1, 1, 1, 1, 0, 0, 0.5, 0.5]  # mean .7, se 1/7.5; t(9) = 2.262
    recs = [_rec(str(i), rep, float(rep < 2 * m)) for i, m in enumerate(means) for rep in range(2)]
    s = summarize_benchmark(recs, 20, 2, Thresholds())
    assert s["score"] == 70.0 and s["stderr"] == pytest.approx(13.3333, abs=1e-3)
    assert s["ci95"] == [pytest.approx(39.84, abs=0.01), 100.0]


def test_rates_and_validity_thresholds():
    recs = [_rec(str(i), 0, 1.0) for i in range(17)]
    recs += [_rec("u", 0, 0.0, extracted=None), _rec("t", 0, 0.0, finish_reason="length", extracted=None),
             {**_rec("e", 0, None), "error": "HTTP 500"}]
    s = summarize_benchmark(recs, 21, 1, Thresholds(max_error_rate=0.01, max_unparsed_rate=0.2))
    assert s["error_rate"] == 0.05 and s["unparsed_rate"] == 0.1 and s["truncation_rate"] == 0.05
    assert s["n"] == 19 and s["score"] == pytest.approx(100 * 17 / 19, abs=1e-3)  # the error is not scored
    assert not s["valid"]
    assert "incomplete: 20 of 21" in s["invalid_reason"] and "error_rate 5.0% > 1.0%" in s["invalid_reason"]
    assert "unparsed" not in s["invalid_reason"]


def test_batch_job_logs_get_plain_progress_lines(tmp_path, scripted_server):
    """Not a terminal (a SLURM log): plain progress lines instead of a live bar."""
    with scripted_server() as srv:
        p = subprocess.run([sys.executable, "-m", "harness.cli", "run", "--benchmarks", "mmlu_pro", "--engine",
                            "openai", "--model", srv.model, "--base-url", srv.base_url, "--limit", "5",
                            "--max-tokens", "8", "--out", str(tmp_path / "run")],
                           capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr
    assert "progress: mmlu_pro 5/5 (100.0%)" in p.stderr and "items/s" in p.stderr
    assert "━" not in p.stderr  # no bar drawn into a log file
