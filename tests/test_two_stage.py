"""Generation and scoring as two stages: scorer errors and scorer changes re-score stored answers without asking the
model again (requests counted on real server processes), shards merge with every metric, resume rules, version-1
run directories stay readable."""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES, REPO, SHARED_DATA, read_samples
from harness.cli import app

cli = CliRunner()


def requests_seen(server) -> int:
    with urllib.request.urlopen(server.base_url.removesuffix("/v1") + "/stats", timeout=10) as r:
        return json.load(r)["chat_requests"]


def harness(*args: str, env: dict | None = None, cwd: Path = REPO) -> subprocess.CompletedProcess:
    p = subprocess.run([sys.executable, "-m", "harness.cli", *args], capture_output=True, text=True, timeout=600,
                       env={**os.environ, **(env or {})}, cwd=cwd)
    return p


def lines(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def summary(run: Path, bench: str) -> dict:
    return json.loads((run / "summary.json").read_text())["benchmarks"][bench]


def test_unreadable_judge_verdicts_are_rescored_never_regenerated(tmp_path, scripted_server):
    """AA-LCR, 5 questions × 3 repeats, judged by a judge whose verdicts cannot be read: re-running the command asks
    the model nothing; re-running with a working judge re-scores every item, still with no model request."""
    with scripted_server("--reply", "right", "--max-model-len", "3000000") as model, \
            scripted_server("--reply", "It is partially correct.", model="judge-bad") as bad, \
            scripted_server("--reply", "CORRECT", model="judge-good") as good:
        base = ["run", "--benchmarks", "aa_lcr", "--limit", "5", "--repeats", "3", "--engine", "openai", "--model",
                model.model, "--base-url", model.base_url, "--max-tokens", "50", "--no-progress", "--out",
                str(tmp_path / "run")]
        r = cli.invoke(app, [*base, "--judge", f"openai:judge-bad@{bad.base_url}"])
        assert r.exit_code == 3, r.output  # complete, flagged invalid: every verdict is a judge error
        assert requests_seen(model) == 15
        s = summary(tmp_path / "run", "aa_lcr")
        assert s["error_rate"] == 1.0 and s["score"] is None and not s["valid"]

        r = cli.invoke(app, [*base, "--judge", f"openai:judge-bad@{bad.base_url}"])  # the same command again
        assert r.exit_code == 3, r.output
        assert requests_seen(model) == 15  # nothing regenerated

        r = cli.invoke(app, [*base, "--judge", f"openai:judge-good@{good.base_url}"])
        assert r.exit_code == 0, r.output
        assert requests_seen(model) == 15
        assert 5 <= requests_seen(good) <= 15  # at most one per item (repeats with the same answer may hit the cache)
        s = summary(tmp_path / "run", "aa_lcr")
        assert s["score"] == 100.0 and s["error_rate"] == 0.0 and s["items_scored"] == 15 and s["valid"]
        assert lines(tmp_path / "run" / "generations.jsonl") == 15

        before = lines(tmp_path / "run" / "scores.jsonl")
        r = cli.invoke(app, ["score", str(tmp_path / "run"), "--judge", f"openai:judge-good@{good.base_url}"])
        assert r.exit_code == 0, r.output
        assert lines(tmp_path / "run" / "scores.jsonl") == before  # current verdicts are not redone
        assert requests_seen(model) == 15
    m = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert m["benchmarks"]["aa_lcr"]["scorer_parts"]["judge"] == {"engine": "openai", "model": "judge-good"}
    assert len(m["commands"]) == 4 and m["created"] <= m["updated"]


BOLD = "The answer is **(B)**\n\nI hope this helps."


def test_a_changed_extraction_rule_rescores_stored_answers_without_the_model(tmp_path, scripted_server):
    """`harness score` after a code change re-scores with the new rule and sends nothing to the model. The change
    undoes, in a copy of the package, the `**` removal that upstream has before its regexes (TIGER-AI-Lab
    evaluate_from_api.py line 236), so the stored bold answers read differently."""
    run = tmp_path / "run"
    with scripted_server("--reply", BOLD) as model:
        r = cli.invoke(app, ["run", "--benchmarks", "mmlu_pro", "--limit", "6", "--engine", "openai", "--model",
                             model.model, "--base-url", model.base_url, "--max-tokens", "20", "--no-progress",
                             "--out", str(run)])
        assert r.exit_code == 0, r.output
        assert {x["extracted"] for x in read_samples(run)} == {"B"}  # "**" removed, then "answer is (B)"
        assert requests_seen(model) == 6

        p = harness("score", str(run))  # nothing changed: nothing to re-score
        assert p.returncode == 0, p.stderr
        assert lines(run / "scores.jsonl") == 6

        copy = tmp_path / "pkg"
        shutil.copytree(REPO / "harness", copy / "harness", ignore=shutil.ignore_patterns("__pycache__"))
        src = copy / "harness" / "benchmarks" / "mmlu_pro.py"
        text = src.read_text()
        strip = '    text = text.replace("**", "")'
        assert strip in text
        src.write_text(text.replace(strip, "    pass"))
        p = harness("score", str(run), env={"PYTHONPATH": str(copy), "HARNESS_TASKS_DIR": str(REPO / "tasks")},
                    cwd=tmp_path)
        assert p.returncode == 0, p.stderr
        assert requests_seen(model) == 6  # the model was not asked again
    items = read_samples(run)
    assert {x["extracted"] for x in items} == {"I"} and len(items) == 6  # "I hope": the last standalone capital
    assert lines(run / "scores.jsonl") == 12 and lines(run / "generations.jsonl") == 6
    s = summary(run, "mmlu_pro")
    want = 100 * sum(x["target"] == "I" for x in items) / 6
    assert s["score"] == pytest.approx(want, abs=1e-3) and s["items_scored"] == 6


def _ifbench_responses(path: Path, n: int) -> Path:
    text = importlib.resources.files("ifbench").joinpath("data/sample_output.jsonl").read_text(encoding="utf-8")
    by_prompt = {r["prompt"]: r["response"] for r in map(json.loads, text.splitlines())}
    rows = [json.loads(x) for x in (SHARED_DATA / "ifbench" / "test.jsonl").read_text().splitlines()][:n]
    path.write_text("".join(json.dumps({"benchmark": "ifbench", "sample_id": str(r["key"]),
                                        "response": by_prompt[r["prompt"]]}) + "\n" for r in rows))
    return path


def test_ifbench_as_one_run_and_as_three_merged_shards_gives_identical_score_and_metrics(tmp_path):
    pytest.importorskip("ifbench")
    f = _ifbench_responses(tmp_path / "responses.jsonl", 45)
    common = ["--benchmarks", "ifbench", "--engine", "replay", "--responses", str(f), "--limit", "45", "--no-progress"]
    r = cli.invoke(app, ["run", *common, "--out", str(tmp_path / "one")])
    assert r.exit_code == 0, r.output
    for i in range(3):
        r = cli.invoke(app, ["run", *common, "--shard", f"{i}/3", "--out", str(tmp_path / f"s{i}")])
        assert r.exit_code == 0, r.output
    r = cli.invoke(app, ["merge", *(str(tmp_path / f"s{i}") for i in range(3)), "--out", str(tmp_path / "merged")])
    assert r.exit_code == 0, r.output
    one, merged = summary(tmp_path / "one", "ifbench"), summary(tmp_path / "merged", "ifbench")
    assert one["metrics"] and one["metrics"]["prompt_level_loose"] is not None
    for k in ("score", "n", "items", "items_expected", "stderr", "ci95", "unparsed_rate", "error_rate", "metrics",
              "categories", "scorer", "valid", "invalid_reason"):
        assert merged[k] == one[k], k


def test_scoring_only_changes_rescore_and_answer_changes_are_refused(tmp_path, scripted_server):
    tasks = tmp_path / "tasks"
    shutil.copytree(REPO / "tasks", tasks)
    env = {"HARNESS_TASKS_DIR": str(tasks)}
    run = tmp_path / "run"
    with scripted_server("--reply", "The answer is (A)") as model:
        cmd = ["run", "--benchmarks", "mmlu_pro,click", "--limit", "3", "--engine", "openai", "--model", model.model,
               "--base-url", model.base_url, "--max-tokens", "20", "--no-progress", "--out", str(run)]
        assert cli.invoke(app, cmd, env=env).exit_code == 0
        scorer = summary(run, "mmlu_pro")["scorer"]
        # the task YAML changes in a way that only touches scoring: re-scored, not regenerated
        y = tasks / "benchmarks" / "mmlu_pro.yaml"
        y.write_text(y.read_text().replace("Official TIGER-AI-Lab cascade", "The official TIGER-AI-Lab cascade"))
        r = cli.invoke(app, cmd, env=env)
        assert r.exit_code == 0, r.output
        assert requests_seen(model) == 6 and summary(run, "mmlu_pro")["scorer"] != scorer
        assert lines(run / "scores.jsonl") == 9
        # a changed prompt template, reasoning parser, or generation setting would mix answers: refused
        y.write_text(y.read_text().replace("Think step by step", "Think carefully"))
        r = cli.invoke(app, cmd, env=env)
        assert r.exit_code == 2 and "prompts that differ" in r.output and "mmlu_pro: 3 items" in r.output
        y.write_text(y.read_text().replace("Think carefully", "Think step by step"))
        r = cli.invoke(app, [*cmd, "--reasoning-parser", "deepseek_r1"], env=env)
        assert r.exit_code == 2 and "reasoning_parser was None, now 'deepseek_r1'" in r.output
        # a subset re-run into the same directory keeps the other benchmark in the manifest and the summary
        r = cli.invoke(app, [*cmd[:2], "mmlu_pro", *cmd[3:]], env=env)
        assert r.exit_code == 0, r.output
        s = json.loads((run / "summary.json").read_text())
        assert set(s["benchmarks"]) == {"mmlu_pro", "click"} and s["benchmarks"]["click"]["items"] == 3
        assert requests_seen(model) == 6
    r = cli.invoke(app, ["run", "--benchmarks", "mmlu_pro,click,mmlu_pro", "--engine", "replay", "--responses",
                         "x.jsonl"])
    assert r.exit_code == 2 and "mmlu_pro listed more than once" in r.output


def test_version_1_run_directory_is_summarised_merged_and_rescored(tmp_path):
    v1 = tmp_path / "v1"
    shutil.copytree(FIXTURES / "v1_run", v1)
    r = cli.invoke(app, ["summary", str(v1)])
    assert r.exit_code == 0 and "50.00" in r.output
    items = read_samples(v1)
    assert len(items) == 12 and {x["scorer"] for x in items} == {"v1"}
    r = cli.invoke(app, ["merge", str(v1), str(FIXTURES / "v1_run"), "--out", str(tmp_path / "merged")])
    assert r.exit_code == 0, r.output
    assert summary(tmp_path / "merged", "mmlu_pro")["score"] == 50.0
    r = cli.invoke(app, ["score", str(v1)])
    assert r.exit_code == 0, r.output
    s = summary(v1, "mmlu_pro")
    assert s["score"] == 50.0 and s["scorer"] != "v1" and s["items_scored"] == 12
    assert (v1 / "samples.jsonl").read_text() == (FIXTURES / "v1_run" / "samples.jsonl").read_text()
    assert lines(v1 / "generations.jsonl") == 12 and lines(v1 / "scores.jsonl") == 24  # 12 v1 + 12 re-scored
    from harness.schemas import validate_run_dir

    assert validate_run_dir(v1) == [] and validate_run_dir(tmp_path / "merged") == []


def test_verify_recomputes_the_summary_from_records(tmp_path):
    run = tmp_path / "run"
    shutil.copytree(FIXTURES / "v1_run", run)
    assert cli.invoke(app, ["score", str(run)]).exit_code == 0
    s = json.loads((run / "summary.json").read_text())
    s["benchmarks"]["mmlu_pro"]["score"] = 91.0
    (run / "summary.json").write_text(json.dumps(s))
    from harness.verify import summary_mismatches

    found = summary_mismatches(run, json.loads((run / "manifest.json").read_text()))
    assert [(m.what, m.was, m.now) for m in found] == [("summary.json score does not match the records", 91.0, 50.0)]


def test_schedule_longest_first_repeats_adjacent_and_shared_documents_together():
    """Generation order: the longest expected items first across benchmarks, the repeats of a prompt next to each
    other, AA-LCR questions over the same documents next to each other; on resume, lengths already observed win."""
    from harness import runner
    from harness.config import GenerationParams, ModelSpec, SuiteEntry
    from harness.generate import schedule
    from harness.records import Generation
    from harness.store import RunRecords

    spec = ModelSpec(engine="replay", model="x", responses="x.jsonl")
    plans = runner.plan_benchmarks([SuiteEntry(name="mmlu_pro"), SuiteEntry(name="aa_lcr")], spec, repeats=3,
                                   roles=("judge",))
    mmlu, lcr = plans
    mmlu.params = mmlu.params.merged(GenerationParams(max_tokens=1000))
    lcr.params = lcr.params.merged(GenerationParams(max_tokens=500))
    mmlu.samples, lcr.samples = mmlu.samples[:4], lcr.samples
    todo = [(p, s, r) for p in plans for r in range(3) for s in p.samples]  # plan order: repeat-major
    order = schedule(todo)
    assert len(order) == len(todo) and set(map(id, order)) == set(map(id, todo))
    assert [p.name for p, _, _ in order[:12]] == ["mmlu_pro"] * 12  # the bigger budget first
    keys = [(p.name, s.id) for p, s, _ in order]
    for i in range(0, len(keys), 3):  # every sample's 3 repeats are adjacent, in order
        assert len(set(keys[i:i + 3])) == 1 and [r for _, _, r in order[i:i + 3]] == [0, 1, 2]
    docs = [lcr.benchmark.prefix_key(s) for p, s, _ in order if p.name == "aa_lcr"]
    runs = [d for i, d in enumerate(docs) if i == 0 or docs[i - 1] != d]
    assert len(runs) == len(set(docs)) == 30  # each document set is one contiguous run of questions

    # on resume, what a sample's finished repeats produced decides its place
    recs = RunRecords()
    short, long_ = mmlu.samples[0], mmlu.samples[3]
    for s, n in ((short, 10), (long_, 5000)):
        recs.add_generation(Generation(benchmark="mmlu_pro", sample_id=s.id, repeat=0, completion_tokens=n))
    rest = [(mmlu, s, r) for s in (short, long_) for r in (1, 2)]
    assert [s.id for _, s, _ in schedule(rest, recs)] == [long_.id, long_.id, short.id, short.id]
