"""Engines against real server processes on 127.0.0.1: the vllm launcher path, the openai engine, hf, replay."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time

import psutil
import pytest

from conftest import SERVE, mmlu_ids, read_samples, run_benchmarks
from harness.config import GenerationParams, ModelSpec
from harness.engine.base import Request, split_reasoning
from harness.engine.vllm import VLLMEngine, serve_command
from harness.errors import EngineError

GEN = GenerationParams(max_tokens=12, temperature=0.0)


def _gone(pid: int) -> bool:
    try:
        p = psutil.Process(pid)
        return p.status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def _pgid(pid: int) -> int | None:
    try:
        return os.getpgid(pid)
    except ProcessLookupError:
        return None


# ---- the vllm launcher -------------------------------------------------------------------------------------------

def test_serve_command_carries_parallelism_parsers_and_extra_args():
    spec = ModelSpec(engine="vllm", model="Qwen/Qwen3-235B-A22B-Thinking-2507", tensor_parallel_size=8,
                     data_parallel_size=2, pipeline_parallel_size=2, max_model_len=131072,
                     reasoning_parser="deepseek_r1", tool_call_parser="hermes",
                     extra_args=["--gpu-memory-utilization", "0.92"])
    cmd = serve_command(spec, 8123)
    assert cmd[:3] == ["vllm", "serve", "Qwen/Qwen3-235B-A22B-Thinking-2507"]
    joined = " ".join(cmd)
    for part in ("--port 8123", "--tensor-parallel-size 8", "--data-parallel-size 2", "--pipeline-parallel-size 2",
                 "--max-model-len 131072", "--reasoning-parser deepseek_r1", "--enable-auto-tool-choice",
                 "--tool-call-parser hermes", "--gpu-memory-utilization 0.92"):
        assert part in joined


def test_vllm_engine_launches_real_model_server_and_tears_it_down(tmp_path):
    """SmolLM2-135M served by a real OpenAI-compatible server process, started through the vllm launcher."""
    spec = ModelSpec(engine="vllm", model="smollm2-135m", executable=SERVE, startup_timeout=300, concurrency=4)
    out = tmp_path / "run"
    summary = run_benchmarks(spec, out, limit=2, generation=GEN)
    recs = read_samples(out)
    assert len(recs) == 2
    for r in recs:
        assert r["error"] is None
        assert r["finish_reason"] in ("stop", "length")
        assert r["prompt_tokens"] > 50 and 0 < r["completion_tokens"] <= 13
    assert summary["benchmarks"]["mmlu_pro"]["n"] == 2
    log = (out / "server.log").read_text()
    assert "serve smollm2-135m" in log and "serving smollm2-135m" in log
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["engine"]["engine"] == "vllm" and manifest["engine"]["served_models"] == ["smollm2-135m"]
    # the server's whole process group is gone
    pid = int(log.split("=== server pid ")[1].split()[0])
    assert _gone(pid)
    assert not [p for p in psutil.process_iter() if _pgid(p.pid) == pid and not _gone(p.pid)]


def test_server_that_never_becomes_healthy_fails_with_log_tail(tmp_path):
    spec = ModelSpec(engine="vllm", model="m", executable=SERVE,
                     extra_args=["--backend", "scripted", "--never-healthy"], startup_timeout=3)
    eng = VLLMEngine(spec)
    t0 = time.monotonic()
    with pytest.raises(EngineError, match="did not become healthy within 3s") as ei:
        asyncio.run(eng.start(tmp_path))
    assert time.monotonic() - t0 < 30
    assert "serving m" in str(ei.value)  # the log tail is in the message
    assert eng.server.proc is None  # stopped


def test_server_that_exits_at_start_fails_fast(tmp_path):
    crash = [sys.executable, "-c", "import sys; print('CUDA error: no GPU found'); sys.exit(7)"]
    spec = ModelSpec(engine="vllm", model="m", executable=crash, startup_timeout=600)
    t0 = time.monotonic()
    with pytest.raises(EngineError, match="exited with code 7") as ei:
        asyncio.run(VLLMEngine(spec).start(tmp_path))
    assert time.monotonic() - t0 < 30  # not the 600 s timeout
    assert "CUDA error: no GPU found" in str(ei.value)


def test_missing_vllm_executable_says_how_to_install(tmp_path):
    spec = ModelSpec(engine="vllm", model="m", executable=["/nonexistent/vllm"])
    with pytest.raises(EngineError, match="not found.*pip install"):
        asyncio.run(VLLMEngine(spec).start(tmp_path))


def test_server_dying_mid_run_loses_nothing_and_resume_completes(tmp_path):
    ids = mmlu_ids(12)
    out = tmp_path / "run"
    dying = ModelSpec(engine="vllm", model="m", executable=SERVE, concurrency=1, max_retries=1,
                      extra_args=["--backend", "scripted", "--die-after", "5", "--latency", "0.05"])
    with pytest.raises(EngineError, match="exited with code 3") as ei:
        run_benchmarks(dying, out, limit=12, generation=GEN)
    assert "re-run the same command to resume" in str(ei.value)
    first = read_samples(out)
    ok = [r for r in first if r["error"] is None]
    assert len(ok) == 5
    summary = json.loads((out / "summary.json").read_text())
    assert summary["complete"] is False and summary["benchmarks"]["mmlu_pro"]["valid"] is False

    healthy = dying.model_copy(update={"extra_args": ["--backend", "scripted"]})
    summary = run_benchmarks(healthy, out, limit=12, generation=GEN)
    recs = read_samples(out)
    done = {(r["sample_id"], r["repeat"]) for r in recs if r["error"] is None}
    assert done == {(sid, 0) for sid, _ in ids}
    assert sum(1 for r in recs if r["error"] is None) == 12  # nothing finished was redone
    assert summary["complete"] is True and summary["benchmarks"]["mmlu_pro"]["n"] == 12


# ---- the openai engine -----------------------------------------------------------------------------------------

def test_openai_engine_reasoning_split_retries_and_secret_not_stored(tmp_path, scripted_server, monkeypatch):
    ids = mmlu_ids(4)
    rules = [
        {"match": "", "reply": "The answer is (B).", "reasoning": "Option A is wrong because ... so B."},
    ]
    rf = tmp_path / "rules.json"
    rf.write_text(json.dumps(rules))
    secret = "sk-test-7f3a9c"
    monkeypatch.setenv("MY_KEY", secret)
    with scripted_server("--reply-file", str(rf), "--reasoning-parser", "deepseek_r1", "--fail-first", "2",
                         "--api-key", secret) as srv:
        spec = ModelSpec(engine="openai", model=srv.model, base_url=srv.base_url, api_key_env="MY_KEY",
                         max_retries=3, concurrency=2)
        out = tmp_path / "run"
        run_benchmarks(spec, out, limit=4, generation=GEN)
    recs = read_samples(out)
    assert len(recs) == 4 and all(r["error"] is None for r in recs)
    assert all(r["response"] == "The answer is (B)." for r in recs)
    assert all(r["reasoning"].startswith("Option A is wrong") for r in recs)
    assert all(r["extracted"] == "B" for r in recs)
    assert sum((r.get("engine_extra") or {}).get("retries", 0) for r in recs) == 2  # two injected 503s retried
    assert [r["score"] for r in recs] == [float(a == "B") for _, a in ids]
    for f in out.iterdir():
        assert secret not in f.read_text(errors="replace"), f"API key leaked into {f.name}"


def test_openai_engine_wrong_key_is_a_recorded_error_not_a_wrong_answer(tmp_path, scripted_server, monkeypatch):
    monkeypatch.setenv("MY_KEY", "wrong")
    with scripted_server("--api-key", "right") as srv:
        spec = ModelSpec(engine="openai", model=srv.model, base_url=srv.base_url, api_key_env="MY_KEY")
        out = tmp_path / "run"
        summary = run_benchmarks(spec, out, limit=3, generation=GEN)
    recs = read_samples(out)
    assert all(r["error"].startswith("HTTP 401") and r["score"] is None for r in recs)
    b = summary["benchmarks"]["mmlu_pro"]
    assert b["error_rate"] == 1.0 and b["valid"] is False and b["score"] is None


def test_think_tags_in_content_are_split_and_truncation_recorded(tmp_path, scripted_server):
    rules = [{"match": "", "reply": "<think>Let me think about C and D", "finish_reason": "length"}]
    rf = tmp_path / "rules.json"
    rf.write_text(json.dumps(rules))
    with scripted_server("--reply-file", str(rf)) as srv:
        spec = ModelSpec(engine="openai", model=srv.model, base_url=srv.base_url)
        out = tmp_path / "run"
        summary = run_benchmarks(spec, out, limit=3, generation=GEN)
    recs = read_samples(out)
    # truncated mid-thought: no answer at all, nothing extracted from the reasoning
    assert all(r["response"] == "" and r["reasoning"] == "Let me think about C and D" for r in recs)
    assert all(r["finish_reason"] == "length" and r["extracted"] is None and r["score"] == 0 for r in recs)
    b = summary["benchmarks"]["mmlu_pro"]
    assert b["truncation_rate"] == 1.0 and b["unparsed_rate"] == 1.0 and not b["valid"]


def test_unreachable_endpoint_fails_before_any_work(tmp_path):
    from harness.engine.vllm import reserve_port

    url = f"http://127.0.0.1:{reserve_port()}/v1"
    spec = ModelSpec(engine="openai", model="m", base_url=url, max_retries=0)
    with pytest.raises(EngineError, match=f"cannot reach {url}.*Check --base-url"):
        run_benchmarks(spec, tmp_path / "run", limit=8, generation=GEN)


def test_endpoint_failing_every_request_aborts_the_run(tmp_path, scripted_server):
    with scripted_server("--fail-first", "1000") as srv:
        spec = ModelSpec(engine="openai", model=srv.model, base_url=srv.base_url, max_retries=0, concurrency=1)
        out = tmp_path / "run"
        with pytest.raises(EngineError, match=r"3 requests in a row failed; last error: .*HTTP 503(.|\n)*0 finished"):
            run_benchmarks(spec, out, limit=8, generation=GEN, max_consecutive_errors=3)
    assert len(read_samples(out)) == 3  # the failed attempts are recorded (and retried on resume)
    assert json.loads((out / "summary.json").read_text())["benchmarks"]["mmlu_pro"]["valid"] is False


# ---- hf and replay ------------------------------------------------------------------------------------------------

def test_hf_engine_generates_with_chat_template_and_reports_length(tmp_path):
    from harness.engine.hf import HFEngine

    async def go():
        eng = HFEngine(ModelSpec(engine="hf", batch_size=4))
        await eng.start(tmp_path)
        try:
            msgs = [{"role": "user", "content": "What is the capital of France?"}]
            short, *batch = await asyncio.gather(
                eng.generate(Request(msgs, GenerationParams(max_tokens=3, temperature=0.0))),
                *(eng.generate(Request(msgs, GenerationParams(max_tokens=40, temperature=0.0))) for _ in range(3)),
            )
            sampled = await eng.generate(Request(msgs, GenerationParams(max_tokens=5, temperature=1.0), seed=1))
            return short, batch, sampled
        finally:
            await eng.close()

    short, batch, sampled = asyncio.run(go())
    assert short.finish_reason == "length" and short.completion_tokens == 3 and short.error is None
    assert all(r.error is None and r.text for r in batch)
    assert len({r.text for r in batch}) == 1  # greedy: identical prompts, identical answers, batched together
    assert "Paris" in batch[0].text
    assert batch[0].prompt_tokens > 5
    assert sampled.error is None and sampled.completion_tokens <= 6


def test_split_reasoning_forms():
    assert split_reasoning("<think>a</think>B") == ("B", "a")
    assert split_reasoning("B", "server reasoning") == ("B", "server reasoning")
    assert split_reasoning("<think>unfinished") == ("", "unfinished")
    assert split_reasoning("thought only</think>\nAnswer: C") == ("Answer: C", "thought only")
    assert split_reasoning("plain") == ("plain", None)
