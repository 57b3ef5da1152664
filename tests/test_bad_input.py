"""Bad input (issue 13 item 7): each gets one `error:` line, exit 2, no traceback, and nothing written that a later run
would trust. Every case runs the real CLI; settings are refused where they are parsed, data rows when the benchmark
loads (before any request)."""

from __future__ import annotations

import errno
import gzip
import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import REPO, SHARED_DATA
from harness.cli import app

cli = CliRunner()


def _mmlu_rows(n: int = 3) -> list[dict]:
    out = []
    with gzip.open(SHARED_DATA / "mmlu_pro" / "test.jsonl.gz", "rt", encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line))
            if len(out) == n:
                break
    return out


@pytest.fixture
def replay(tmp_path):
    """`harness run` arguments for a 3-item MMLU-Pro run from saved responses (no model)."""
    f = tmp_path / "resp.jsonl"
    f.write_text("".join(json.dumps({"sample_id": str(r["question_id"]), "response": "The answer is (A)"}) + "\n"
                         for r in _mmlu_rows()))
    return ["run", "--benchmarks", "mmlu_pro", "--engine", "replay", "--responses", str(f), "--limit", "3",
            "--no-progress"]


def refused(args: list[str], *expect: str, out: Path | None = None, env: dict | None = None) -> str:
    r = cli.invoke(app, args, env=env)
    text = r.output
    assert r.exit_code == 2, text
    assert text.startswith("error: ") or "\nerror: " in text, text
    assert "Traceback" not in text and (r.exception is None or isinstance(r.exception, SystemExit)), text
    for e in expect:
        assert e in text, text
    if out is not None:  # nothing a later run would trust: no records, no summary
        assert not (out / "generations.jsonl").exists() and not (out / "summary.json").exists()
    return text


# ---- settings, refused where they are parsed ----

@pytest.mark.parametrize("args, expect", [
    (["--concurrency", "0"], "--concurrency 0: Input should be greater than or equal to 1"),
    (["--concurrency", "-1"], "--concurrency -1"),
    (["--gen", "top_k=abc"], "--top-k 'abc': Input should be a valid integer"),
    (["--limit", "-12000"], "--limit -12000: must be at least 1"),
    (["--repeats", "0"], "--repeats 0: must be between 1 and"),
    (["--repeats", "-1"], "--repeats -1: must be between 1 and"),
    (["--max-error-rate", "-1"], "--max-error-rate -1.0: Input should be greater than or equal to 0"),
    (["--max-unparsed-rate", "1.5"], "--max-unparsed-rate 1.5"),
    (["--temperature", "-0.5"], "--temperature -0.5"),
])
def test_bad_run_settings_are_refused(tmp_path, replay, args, expect):
    out = tmp_path / "o"
    refused([*replay, *args, "--out", str(out)], expect, out=out)
    assert not out.exists()


def test_concurrency_zero_does_not_hang_against_a_server(tmp_path):
    # semaphore(0) let no request start: refused before the engine is even reached
    refused(["run", "--benchmarks", "mmlu_pro", "--engine", "openai", "--model", "m", "--base-url",
             "http://127.0.0.1:9/v1", "--concurrency", "0", "--out", str(tmp_path / "o")], "--concurrency 0")


@pytest.mark.parametrize("entry, expect", [
    ("  - {name: mmlu_pro, limit: -3}", "limit"),
    ("  - {name: mmlu_pro, repeats: -3}", "repeats"),
    ("  - {name: mmlu_pro, repeats: 0}", "repeats"),
])
def test_bad_suite_yaml_is_refused(tmp_path, replay, entry, expect):
    suite = tmp_path / "s.yaml"
    suite.write_text(f"name: s\nbenchmarks:\n{entry}\n")
    args = [a for a in replay if a not in ("--benchmarks", "mmlu_pro")]
    text = refused([*args, "--suite", str(suite), "--out", str(tmp_path / "o")], "invalid SuiteSpec", expect)
    assert "greater than or equal to 1" in text


def test_benchmark_yaml_repeats_negative_is_refused(tmp_path, replay):
    tasks = tmp_path / "tasks"
    shutil.copytree(REPO / "tasks", tasks)
    y = tasks / "benchmarks" / "mmlu_pro.yaml"
    y.write_text(y.read_text() + "repeats: -3\n" if "\nrepeats:" not in y.read_text()
                 else "\n".join("repeats: -3" if l.startswith("repeats:") else l for l in y.read_text().splitlines()))
    refused([*replay, "--out", str(tmp_path / "o")], "invalid BenchmarkSpec", "repeats",
            env={"HARNESS_TASKS_DIR": str(tasks)})


def test_huge_run_needs_max_items(tmp_path, replay):
    out = tmp_path / "o"
    args = [a for a in replay if a not in ("--limit", "3")]
    refused([*args, "--repeats", "5000", "--out", str(out)], "this run plans 60,150,000 work items",
            "--max-items 60150000", out=out)
    assert not out.exists()
    refused([*replay, "--repeats", "2", "--max-items", "5", "--out", str(out)], "plans 6 work items")
    r = cli.invoke(app, [*replay, "--repeats", "2", "--max-items", "6", "--out", str(out)])
    assert r.exit_code in (0, 3), r.output  # allowed when said so


def test_non_utf8_model_yaml(tmp_path, replay):
    y = tmp_path / "m.yaml"
    y.write_bytes(b"engine: replay\nname: caf\xe9\n")
    refused([*replay, "--model-config", str(y), "--out", str(tmp_path / "o")], "is not UTF-8 text")


def test_non_utf8_responses_file(tmp_path):
    f = tmp_path / "r.jsonl"
    f.write_bytes(b'{"sample_id": "70", "response": "ok"}\n{"sample_id": "71", "response": "caf\xe9"}\n')
    out = tmp_path / "o"
    refused(["run", "--benchmarks", "mmlu_pro", "--engine", "replay", "--responses", str(f), "--out", str(out)],
            f"{f}:2: not UTF-8 text", out=out)


@pytest.mark.parametrize("repeat", ["1e9", "1.7", "-1", "true", '"2"'])
def test_responses_repeat_must_be_a_small_whole_number(tmp_path, repeat):
    f = tmp_path / "r.jsonl"
    f.write_text('{"sample_id": "70", "response": "x", "repeat": %s}\n' % repeat)
    out = tmp_path / "o"
    refused(["score-responses", "--benchmark", "mmlu_pro", "--responses", str(f), "--out", str(out)],
            '"repeat" must be a whole number', out=out)


# ---- data rows, refused when the benchmark loads ----

def _data(tmp_path: Path, change) -> Path:
    rows = _mmlu_rows()
    change(rows[1])
    f = tmp_path / "data.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return f


@pytest.mark.parametrize("change, expect", [
    (lambda r: r.pop("question"), "cannot make a prompt (KeyError: 'question')"),
    (lambda r: r.update(answer="Z"), "answer 'Z' is not a letter of its 10 options"),
    (lambda r: r.update(answer=3), "answer 3 is not a letter"),
    (lambda r: r.update(options=[]), "options must be a list of 1 to"),
    (lambda r: r.pop("answer"), "KeyError"),
])
def test_bad_data_rows_fail_before_any_request(tmp_path, replay, change, expect):
    out = tmp_path / "o"
    refused([*replay, "--data", f"mmlu_pro={_data(tmp_path, change)}", "--out", str(out)], "mmlu_pro", expect,
            out=out)
    assert not out.exists()


def test_template_with_an_unknown_field(tmp_path, replay):
    tasks = tmp_path / "tasks"
    shutil.copytree(REPO / "tasks", tasks)
    y = tasks / "benchmarks" / "mmlu_pro.yaml"
    y.write_text(y.read_text().replace("{question}", "{question} {no_such_field}", 1))
    out = tmp_path / "o"
    refused([*replay, "--out", str(out)], "KeyError: 'no_such_field'", "prompt template in mmlu_pro.yaml", out=out,
            env={"HARNESS_TASKS_DIR": str(tasks)})


# ---- the run directory ----

def test_out_naming_a_file(tmp_path, replay):
    f = tmp_path / "afile"
    f.write_text("keep me")
    refused([*replay, "--out", str(f)], "is a file; give a run directory")
    refused([*replay, "--out", str(f / "sub")], "error: cannot write")
    assert f.read_text() == "keep me"


def test_disk_full_is_one_line_and_resumes(tmp_path, replay, monkeypatch):
    from harness import store

    real = store._Log.append
    calls = {"n": 0}

    def full(self, record):
        calls["n"] += 1
        if calls["n"] > 1:  # the first record fits, then the disk is full
            raise OSError(errno.ENOSPC, "No space left on device", str(self.path))
        return real(self, record)

    out = tmp_path / "o"
    monkeypatch.setattr(store._Log, "append", full)
    refused([*replay, "--out", str(out)], "No space left on device", "free space or give another --out")
    monkeypatch.setattr(store._Log, "append", real)
    # the partial summary the runner writes on any failure says so: nothing complete to trust
    assert json.loads((out / "summary.json").read_text())["complete"] is False
    r = cli.invoke(app, [*replay, "--out", str(out)])  # space again: the same command finishes the run
    assert r.exit_code in (0, 3), r.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] and summary["benchmarks"]["mmlu_pro"]["n"] == 3


@pytest.mark.parametrize("line", ['{"foo": 1}', "[1, 2]", "42", '"text"'])
def test_generations_line_that_is_json_but_not_a_record(tmp_path, replay, line):
    out = tmp_path / "o"
    r = cli.invoke(app, [*replay, "--out", str(out)])
    assert r.exit_code in (0, 3), r.output
    with open(out / "generations.jsonl", "a") as f:
        f.write(line + "\n")
    refused([*replay, "--out", str(out)], "generations.jsonl: record 4 is not a Generation record")
