"""The JSON Schemas of the run directory files match what the harness writes, and catch what they must."""

from __future__ import annotations

import gzip
import json
import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.records import SCHEMA_VERSION
from harness.schemas import NAMES, generate, load_schema, validate_run_dir

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
MMLU_PRO = DATA / "mmlu_pro" / "test.jsonl.gz"


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A real run directory: score-responses on 3 MMLU-Pro questions through the replay engine."""
    if not MMLU_PRO.exists():
        pytest.skip(f"MMLU-Pro data not found at {MMLU_PRO}")
    with gzip.open(MMLU_PRO, "rt", encoding="utf-8") as f:
        rows = [json.loads(next(f)) for _ in range(3)]
    tmp = tmp_path_factory.mktemp("schemas")
    responses = tmp / "responses.jsonl"
    replies = ["The answer is (A).", "I think it is (B), final answer: B", "no idea"]  # last one is unparsed
    responses.write_text("".join(json.dumps({"sample_id": str(r["question_id"]), "response": t}) + "\n"
                                 for r, t in zip(rows, replies)), encoding="utf-8")
    out = tmp / "run"
    res = CliRunner().invoke(app, ["score-responses", "--benchmark", "mmlu_pro", "--responses", str(responses),
                                   "--out", str(out), "--data-dir", str(DATA)])
    assert res.exit_code == 3, res.output  # 1 of 3 unparsed: complete, flagged invalid
    return out


@pytest.fixture
def copy(run_dir, tmp_path) -> Path:
    d = tmp_path / "copy"
    shutil.copytree(run_dir, d)
    return d


def _edit_json(path: Path, fn) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    fn(data)
    path.write_text(json.dumps(data), encoding="utf-8")


def _edit_first(d: Path, fn, fname: str = "scores.jsonl") -> None:
    lines = (d / fname).read_text(encoding="utf-8").splitlines()
    rec = json.loads(lines[0])
    fn(rec)
    lines[0] = json.dumps(rec)
    (d / fname).write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_schemas_are_valid_and_versioned():
    from jsonschema import Draft202012Validator

    for name in NAMES:
        s = load_schema(name)
        Draft202012Validator.check_schema(s)
        assert s["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert s["x-schema-version"] == SCHEMA_VERSION, f"{name}: bump the schema with records.SCHEMA_VERSION"
        assert s["$id"] == f"https://harness.local/schemas/{name}/{SCHEMA_VERSION}"
        if name in ("manifest", "summary"):
            assert s["properties"]["schema_version"]["const"] == SCHEMA_VERSION
    with pytest.raises(ValueError):
        load_schema("nope")


@pytest.mark.parametrize("name", NAMES)
def test_shipped_schemas_are_the_ones_generated_from_the_records(name):
    """harness/schemas/*.schema.json are generated from harness/records.py: `python -m harness.schemas` rewrites
    them after a record type changes."""
    assert load_schema(name) == json.loads(json.dumps(generate(name))), \
        f"{name}.schema.json is stale: run `python -m harness.schemas`"


def test_real_run_directory_is_valid(run_dir):
    assert sorted(p.name for p in run_dir.iterdir() if not p.name.startswith(".")) == [
        "generations.jsonl", "manifest.json", "scores.jsonl", "summary.json"]
    assert len((run_dir / "generations.jsonl").read_text().splitlines()) == 3
    assert len((run_dir / "scores.jsonl").read_text().splitlines()) == 3
    assert validate_run_dir(run_dir) == []


def test_error_record_is_valid():
    """An item that ended in an engine error (a generation with no response, never scored) is a valid line."""
    from jsonschema import Draft202012Validator

    from harness.benchmarks.base import Prompt, Sample
    from harness.config import GenerationParams
    from harness.engine.base import Response
    from harness.generate import generation_record

    rec = generation_record("mmlu_pro", Sample(id="70", row={}), 2, 123, Prompt([], "A"), GenerationParams(),
                            Response(text="", error="HTTP 500: boom", latency_s=1.5)).model_dump()
    rec = json.loads(json.dumps(rec))
    assert rec["error"] and rec["error_kind"] == "engine" and "score" not in rec
    assert list(Draft202012Validator(load_schema("generations")).iter_errors(rec)) == []


def test_summary_score_must_be_a_number(copy):
    _edit_json(copy / "summary.json", lambda s: s["benchmarks"]["mmlu_pro"].update(score="high"))
    problems = validate_run_dir(copy)
    assert len(problems) == 1
    assert problems[0].startswith("summary.json: benchmarks.mmlu_pro.score:") and "'high'" in problems[0]


@pytest.mark.parametrize("fname", ["generations.jsonl", "scores.jsonl"])
def test_record_line_needs_sample_id(copy, fname):
    _edit_first(copy, lambda r: r.pop("sample_id"), fname)
    problems = validate_run_dir(copy)
    assert problems == [f"{fname}:1: (top level): 'sample_id' is a required property"]


def test_sample_id_must_be_a_string_and_score_in_0_1(copy):
    def edit(r):
        r["sample_id"] = 70
        r["score"] = 1.5

    _edit_first(copy, edit)
    problems = validate_run_dir(copy)
    assert len(problems) == 2
    assert any("sample_id" in p for p in problems) and any("score" in p for p in problems)


@pytest.mark.parametrize("fname", ["manifest.json", "summary.json"])
def test_schema_version_mismatch_is_reported(copy, fname):
    _edit_json(copy / fname, lambda d: d.update(schema_version="0.9"))
    problems = validate_run_dir(copy)
    assert problems == [f"{fname}: schema_version: is '0.9', expected '{SCHEMA_VERSION}'"]


@pytest.mark.parametrize("field", ["score", "n", "repeats", "stderr", "ci95", "truncation_rate", "unparsed_rate",
                                   "error_rate", "unknown_rates", "valid", "invalid_reason", "scorer", "metrics"])
def test_summary_entry_required_fields(copy, field):
    _edit_json(copy / "summary.json", lambda s: s["benchmarks"]["mmlu_pro"].pop(field))
    assert validate_run_dir(copy) == [f"summary.json: benchmarks.mmlu_pro: '{field}' is a required property"]


@pytest.mark.parametrize("field", ["version", "task_sha256", "repeats"])
def test_manifest_benchmark_required_fields(copy, field):
    _edit_json(copy / "manifest.json", lambda m: m["benchmarks"]["mmlu_pro"].pop(field))
    assert validate_run_dir(copy) == [f"manifest.json: benchmarks.mmlu_pro: '{field}' is a required property"]


def test_unknown_fields_are_allowed(copy):
    """Forward compatibility: a later 2.x may add fields; 2.0 readers ignore them."""
    _edit_json(copy / "summary.json", lambda s: (s.update(new_top=1), s["benchmarks"]["mmlu_pro"].update(new=2)))
    _edit_first(copy, lambda r: r.update(new_field={"x": 1}))
    assert validate_run_dir(copy) == []


def test_missing_and_corrupt_files_are_reported(copy):
    (copy / "manifest.json").unlink()
    with open(copy / "generations.jsonl", "a", encoding="utf-8") as f:
        f.write("{not json\n")
    problems = validate_run_dir(copy)
    assert problems[0] == "manifest.json: missing"
    assert problems[1].startswith("generations.jsonl:4: not valid JSON")
    assert len(problems) == 2
