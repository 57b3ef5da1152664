"""Faults and bad input: malformed 200 responses are engine errors (retried, recorded, never scored, stored safely);
a killed harness takes its vLLM server with it, and a resume stops a server left by a killed harness; merge refuses
live directories and conflicting parts; exit codes a scheduler can use."""

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

from conftest import SERVE, read_samples
from harness.cli import app

cli = CliRunner()

MALFORMED = {
    "empty_choice": {"choices": [{}]},
    "null_content": {"choices": [{"message": {"role": "assistant", "content": None}, "finish_reason": "stop"}]},
    "choices_string": {"choices": "oops"},
    "message_string": {"choices": [{"message": "hello", "finish_reason": "stop"}]},
    "no_choices": {"choices": []},
    "not_json": "this is not json",
    "lone_surrogate": '{"choices": [{"message": {"role": "assistant", "content": "the answer is \\ud800 (A)"}, '
                      '"finish_reason": "stop"}]}',
}


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower()


def test_malformed_200_responses_are_engine_errors_never_scored(tmp_path, scripted_server):
    from conftest import mmlu_ids

    ids = mmlu_ids(len(MALFORMED) + 1)
    # each malformed body answers one question (matched by its text); the last question gets a good answer
    import gzip

    rows = {}
    with gzip.open(Path(__file__).resolve().parents[2] / "shared" / "data" / "mmlu_pro" / "test.jsonl.gz", "rt") as f:
        for line in f:
            r = json.loads(line)
            rows[str(r["question_id"])] = r
            if len(rows) == len(ids):
                break
    rules = [{"match": rows[sid]["question"].strip()[:60], "raw": body}
             for (sid, _), body in zip(ids, MALFORMED.values())]
    (tmp_path / "rules.json").write_text(json.dumps(rules))
    with scripted_server("--reply-file", str(tmp_path / "rules.json")) as srv:
        out = tmp_path / "run"
        spec = tmp_path / "model.yaml"
        spec.write_text(json.dumps({"engine": "openai", "model": srv.model, "base_url": srv.base_url,
                                    "max_retries": 1}))
        r = cli.invoke(app, ["run", "--benchmarks", "mmlu_pro", "--limit", str(len(ids)), "--model-config",
                             str(spec), "--max-tokens", "8", "--no-progress", "--out", str(out)])
        assert r.exception is None or isinstance(r.exception, SystemExit), r.output
        items = {x["sample_id"]: x for x in read_samples(out)}
        for (sid, _), kind in zip(ids, MALFORMED):
            x = items[sid]
            assert x["error_kind"] == "engine" and x["score"] is None, kind
            assert "malformed response" in x["error"], (kind, x["error"])
        good = items[ids[-1][0]]
        assert good["error"] is None and good["extracted"] == "A"
        s = json.loads((out / "summary.json").read_text())["benchmarks"]["mmlu_pro"]
        assert s["error_rate"] == pytest.approx(len(MALFORMED) / len(ids), abs=1e-4) and not s["valid"]
        # resuming retries exactly the failed items and does not choke on what was stored
        r = cli.invoke(app, ["run", "--benchmarks", "mmlu_pro", "--limit", str(len(ids)), "--model-config",
                             str(spec), "--max-tokens", "8", "--no-progress", "--out", str(out)])
        assert "Traceback" not in r.output
    assert len((out / "generations.jsonl").read_text().splitlines()) == len(ids) + len(MALFORMED)  # retried once more


def _harness_with_vllm(tmp_path: Path, out: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "harness.cli", "run", "--benchmarks", "mmlu_pro", "--limit", "400", "--engine",
           "vllm", "--model", "m", "--vllm-executable", " ".join(SERVE), "--vllm-arg", "--backend scripted",
           "--vllm-arg", "--latency 0.5", "--concurrency", "2", "--max-tokens", "8", "--no-progress", "--out",
           str(out)]
    return subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)


def _server_pid(out: Path, timeout: float = 120) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gen = out / "generations.jsonl"
        if (out / "server.pid").exists() and gen.exists() and gen.read_text().count("\n") >= 2:
            return int(json.loads((out / "server.pid").read_text())["pid"])
        time.sleep(0.1)
    raise AssertionError("the server never started answering")


def test_kill_9_of_the_harness_takes_its_vllm_server_down(tmp_path):
    out = tmp_path / "run"
    proc = _harness_with_vllm(tmp_path, out)
    try:
        pid = _server_pid(out)
        assert _alive(pid)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        deadline = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _alive(pid), "the server outlived the harness"
    finally:
        proc.kill()


def test_resume_stops_a_server_left_by_a_killed_harness_and_its_watchdog(tmp_path):
    out = tmp_path / "run"
    proc = _harness_with_vllm(tmp_path, out)
    try:
        pid = _server_pid(out)
        # the watchdog is killed first (as a scheduler killing every process of the job but the server would)
        wd = [int(p) for p in os.listdir("/proc") if p.isdigit()
              and b"os.killpg(pgid" in Path(f"/proc/{p}/cmdline").read_bytes()
              and Path(f"/proc/{p}/cmdline").read_bytes().endswith(f"{pid}\0".encode())]
        assert wd, "no watchdog found for the server"
        for w in wd:
            os.kill(w, signal.SIGKILL)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        time.sleep(1)
        assert _alive(pid), "the server should still be running: nothing watched it"
        resumed = _harness_with_vllm(tmp_path, out)
        try:
            deadline = time.monotonic() + 60
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert not _alive(pid), "the resume left the stale server running"
            while time.monotonic() < deadline and (out / "server.log").read_text().count("=== server pid") < 2:
                time.sleep(0.1)
            assert (out / "server.log").read_text().count("=== server pid") == 2  # and started its own
        finally:
            resumed.kill()
            resumed.wait()
    finally:
        proc.kill()
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError, UnboundLocalError):
            pass


def _replay(tmp_path: Path, name: str, answers: dict[str, str]) -> Path:
    f = tmp_path / f"{name}.jsonl"
    f.write_text("".join(json.dumps({"benchmark": "mmlu_pro", "sample_id": sid, "response": text}) + "\n"
                         for sid, text in answers.items()))
    out = tmp_path / name
    r = cli.invoke(app, ["run", "--benchmarks", "mmlu_pro", "--limit", str(len(answers)), "--engine", "replay",
                         "--responses", str(f), "--no-progress", "--out", str(out)])
    assert r.exit_code in (0, 3), r.output
    return out


def test_merge_refuses_parts_that_disagree_and_a_directory_a_run_is_writing(tmp_path):
    from conftest import mmlu_ids

    from harness.store import RunStore

    ids = [sid for sid, _ in mmlu_ids(4)]
    a = _replay(tmp_path, "a", {sid: "the answer is (A)" for sid in ids})
    b = _replay(tmp_path, "b", {sid: "the answer is (B)" if sid == ids[2] else "the answer is (A)" for sid in ids})
    for order in ((a, b), (b, a)):  # whichever comes first, the disagreement is named, never resolved silently
        r = cli.invoke(app, ["merge", str(order[0]), str(order[1]), "--out", str(tmp_path / "m")])
        assert r.exit_code == 2 and "1 work items have different answers" in r.output, r.output
        assert f"mmlu_pro {ids[2]}#0" in r.output and not (tmp_path / "m").exists()
    # a directory some process is writing is never replaced, even with --force
    r = cli.invoke(app, ["merge", str(a), "--out", str(tmp_path / "m")])
    assert r.exit_code == 0, r.output
    live = RunStore(tmp_path / "m")
    live.open()
    try:
        before = (tmp_path / "m" / "generations.jsonl").read_text()
        r = cli.invoke(app, ["merge", str(a), "--out", str(tmp_path / "m"), "--force"])
        assert r.exit_code == 2 and "another harness process is writing" in r.output
        assert (tmp_path / "m" / "generations.jsonl").read_text() == before
    finally:
        live.close()
    r = cli.invoke(app, ["merge", str(a), "--out", str(tmp_path / "m"), "--force"])
    assert r.exit_code == 0, r.output
