"""Resume and summaries read the records one line at a time and keep them lean (issue 15: a 250 MiB records file must
resume in under 300 MB; bench/resume_memory.py measures it). What must not change: a finished run resumes without a
request and with the same summary; the summary from lean records equals the one from whole records; answers that
still need a verdict are read back whole from their lines (including version-1 directories)."""

from __future__ import annotations

import json
import shutil
import urllib.request
from pathlib import Path

import pytest
from conftest import FIXTURES
from typer.testing import CliRunner

from harness.cli import app
from harness.records import Generation
from harness.store import TEXT_FIELDS, LeanGeneration, RunStore, load_records, run_items
from harness.summary import summarize_run

cli = CliRunner()
REPLY = "Let me think step by step. The answer is (A)."


def _stats(srv) -> dict:
    with urllib.request.urlopen(srv.base_url.removesuffix("/v1") + "/stats", timeout=10) as r:
        return json.loads(r.read())


def _run(srv, out: Path, *extra: str):
    r = cli.invoke(app, ["run", "--benchmarks", "mmlu_pro,aime2025,ifeval", "--engine", "openai", "--model",
                         srv.model, "--base-url", srv.base_url, "--limit", "4", "--repeats", "2", "--max-tokens", "64",
                         "--no-progress", "--out", str(out), *extra])
    assert r.exit_code in (0, 3), r.output
    return json.loads((out / "summary.json").read_text())


def _same(a: dict, b: dict) -> None:
    a, b = dict(a), dict(b)
    a.pop("updated"), b.pop("updated")
    assert a == b


@pytest.fixture
def finished(tmp_path, scripted_server):
    rules = [{"match": "", "reply": REPLY, "reasoning": "Long thoughts. " * 200}]
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    with scripted_server("--reply-file", str(tmp_path / "rules.json"), "--reasoning-parser", "deepseek_r1") as srv:
        out = tmp_path / "run"
        summary = _run(srv, out)
        yield srv, out, summary


def test_a_finished_run_resumes_without_a_request_and_with_the_same_summary(finished):
    srv, out, summary = finished
    asked = _stats(srv)["chat_requests"]
    lines = (out / "generations.jsonl").read_text().count("\n"), (out / "scores.jsonl").read_text().count("\n")
    again = _run(srv, out)
    assert _stats(srv)["chat_requests"] == asked  # nothing was asked again
    assert ((out / "generations.jsonl").read_text().count("\n"), (out / "scores.jsonl").read_text().count("\n")) \
        == lines
    _same(again, summary)
    assert summary["complete"] and summary["benchmarks"]["mmlu_pro"]["items"] == 8


def test_lean_records_give_the_summary_whole_records_give(finished):
    _, out, _ = finished
    manifest = json.loads((out / "manifest.json").read_text())
    whole, lean = load_records(out), load_records(out, lean=True)
    assert all(isinstance(g, LeanGeneration) for g in lean.generations.values())
    assert all(isinstance(g, Generation) for g in whole.generations.values())
    _same(summarize_run(manifest, lean), summarize_run(manifest, whole))
    # the item views are the whole ones minus the answer's texts (reasoning length included)
    full, thin = run_items(out), run_items(out, lean=True)
    assert full.keys() == thin.keys()
    for k, v in full.items():
        assert thin[k] == {f: x for f, x in v.items() if f not in TEXT_FIELDS}
        assert thin[k]["reasoning_chars"] == len("Long thoughts. " * 200)
    # a whole generation read back from its line is the stored one
    for k, g in whole.generations.items():
        assert lean.generation(k) == g


def test_rescoring_reads_each_answer_back_from_its_line(finished):
    """Every verdict gone: `harness score` scores each stored answer again (read back by offset, including the ones a
    resumed run appended) and gives the same summary."""
    srv, out, _ = finished
    r = cli.invoke(app, ["run", "--benchmarks", "mmlu_pro,aime2025,ifeval", "--engine", "openai", "--model",
                         srv.model, "--base-url", srv.base_url, "--limit", "6", "--repeats", "2", "--max-tokens", "64",
                         "--no-progress", "--out", str(out)])  # appends generations after the first run's
    assert r.exit_code in (0, 3), r.output
    before = json.loads((out / "summary.json").read_text())
    assert before["benchmarks"]["mmlu_pro"]["items"] == 12
    (out / "scores.jsonl").unlink()
    r = cli.invoke(app, ["score", str(out)])
    assert r.exit_code in (0, 3), r.output
    after = json.loads((out / "summary.json").read_text())
    _same(after, before)
    assert after["benchmarks"]["mmlu_pro"]["items_scored"] == 12


def test_store_offsets_of_appended_generations_read_back(tmp_path):
    store = RunStore(tmp_path / "run")
    store.open()
    try:
        made = [Generation(benchmark="b", sample_id=str(i), repeat=0, response=f"answer {i} ü" * (i + 1),
                           reasoning="r" * i) for i in range(5)]
        for g in made:
            store.append_generation(g)
        for g in made:
            assert isinstance(store.records.generations[g.key], LeanGeneration)
            assert store.records.generation(g.key) == g
    finally:
        store.close()


def test_version_1_directory_streams_and_upgrades(tmp_path):
    src = FIXTURES / "v1_run"
    manifest = json.loads((src / "manifest.json").read_text())
    whole, lean = load_records(src), load_records(src, lean=True)
    _same(summarize_run(manifest, lean), summarize_run(manifest, whole))
    for k, g in whole.generations.items():
        assert lean.generation(k) == g  # read back from samples.jsonl through the version-1 reader
    # opening it for writing (resume, `harness score`) upgrades it and still reads the same records
    d = tmp_path / "v1"
    shutil.copytree(src, d)
    store = RunStore(d)
    recs = store.open()
    store.close()
    assert (d / "generations.jsonl").exists()
    _same(summarize_run(manifest, recs), summarize_run(manifest, whole))
    _same(summarize_run(manifest, load_records(d, lean=True)), summarize_run(manifest, whole))
