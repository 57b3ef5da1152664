"""Streaming (issue 15, items 1 and 2), against real stand-in server processes on 127.0.0.1 speaking vLLM 0.33's SSE:
the request timeout is an idle timeout (a long answer streamed slowly is never cut, a silent server is retried),
streamed chunks assemble into what a non-streamed request answers (reasoning split, finish_reason, usage, tool
calls by index), a mid-stream error is retried, non-streaming still works, Retry-After is honoured and a request
waiting out its backoff does not hold its concurrency slot."""

from __future__ import annotations

import asyncio
import json
import time
import urllib.request

from typer.testing import CliRunner

from conftest import read_samples
from harness.cli import app
from harness.config import GenerationParams
from harness.engine.base import Request
from harness.engine.client import ChatClient, parse_retry_after

cli = CliRunner()

TOOL_CALLS = [
    {"id": "call_a1", "type": "function",
     "function": {"name": "get_customer_by_phone", "arguments": json.dumps({"phone_number": "555-123-2002"})}},
    {"id": "call_a2", "type": "function", "function": {"name": "get_data_usage", "arguments": "{}"}},
]
RULES = [
    {"match": "reason", "reasoning": "Two plus two.\n  Four.", "reply": "The answer is (D)."},
    {"match": "truncate", "reply": "I was cut", "finish_reason": "length"},
    {"match": "tools", "tool_calls": TOOL_CALLS},
]


def ask(client: ChatClient, text: str):
    return client.generate(Request(messages=[{"role": "user", "content": text}], params=GenerationParams()))


def run(coro):
    return asyncio.run(coro)


def stats(srv) -> dict:
    with urllib.request.urlopen(srv.base_url.removesuffix("/v1") + "/stats") as r:
        return json.loads(r.read())


async def _all(srv, questions, **kw):
    c = ChatClient(srv.base_url, srv.model, **kw)
    try:
        return [await ask(c, q) for q in questions]
    finally:
        await c.close()


def test_a_slow_stream_longer_than_the_request_timeout_finishes_without_a_retry(tmp_path, scripted_server):
    """An answer streamed over 8 s with --request-timeout 3: the timeout is idle, not total."""
    reply = " ".join(["thinking"] * 15) + " The answer is (A)."
    with scripted_server("--reply", reply, "--stream-delay", "0.4") as srv:
        spec = tmp_path / "model.yaml"
        spec.write_text(json.dumps({"engine": "openai", "model": srv.model, "base_url": srv.base_url}))
        out = tmp_path / "run"
        t0 = time.monotonic()
        r = cli.invoke(app, ["run", "--benchmarks", "mmlu_pro", "--limit", "1", "--model-config", str(spec),
                             "--request-timeout", "3", "--max-retries", "0", "--no-progress", "--out", str(out)])
        took = time.monotonic() - t0
        assert r.exception is None or isinstance(r.exception, SystemExit), r.output
        [x] = read_samples(out)
        assert x["error"] is None and x["extracted"] == "A", x
        assert took >= 8, took  # it really streamed for longer than the timeout
        s = stats(srv)
        assert s["chat_requests"] == 1 and s["streams"] == 1  # no retry
        manifest = json.loads((out / "manifest.json").read_text())
        assert manifest["model"]["request_timeout"] == 3 and manifest["model"]["stream"] is True


def test_a_silent_server_is_retried_after_the_idle_timeout(scripted_server):
    with scripted_server("--stall-first", "1", "--stall", "30") as srv:
        t0 = time.monotonic()
        [r] = run(_all(srv, ["q"], timeout=2, max_retries=2, backoff=0.1))
        took = time.monotonic() - t0
        assert r.error is None and r.text == "The answer is (A)." and r.extra.get("retries") == 1
        assert 2 <= took < 15, took
        assert stats(srv)["chat_requests"] == 2
    with scripted_server("--stall-first", "5", "--stall", "30") as srv:
        [r] = run(_all(srv, ["q"], timeout=1, max_retries=1, backoff=0.1))
        assert r.error and "failed after 2 attempts" in r.error and "--request-timeout" in r.error, r.error


def test_streamed_answers_assemble_like_non_streamed_ones(tmp_path, scripted_server):
    """Reasoning (vLLM's `delta.reasoning`, and `<think>` in content without a parser), finish_reason length, usage
    from the final `choices: []` chunk, tool calls assembled from deltas by index: the same Response either way."""
    (tmp_path / "rules.json").write_text(json.dumps(RULES))
    qs = ["reason", "truncate", "tools", "plain"]
    for parser in (("--reasoning-parser", "qwen3"), ()):
        with scripted_server("--reply-file", str(tmp_path / "rules.json"), *parser) as srv:
            streamed = run(_all(srv, qs))
            plain = run(_all(srv, qs, stream=False))
            assert stats(srv)["streams"] == len(qs)
        for a, b in zip(streamed, plain):
            assert a.error is None and b.error is None
            assert (a.text, a.reasoning, a.finish_reason, a.prompt_tokens, a.completion_tokens, a.extra) == \
                   (b.text, b.reasoning, b.finish_reason, b.prompt_tokens, b.completion_tokens, b.extra)
        reason, trunc, tools, plain_r = streamed
        assert reason.text == "The answer is (D)." and reason.reasoning == "Two plus two.\n  Four."
        assert reason.completion_tokens == (8 if parser else 7) and reason.prompt_tokens == 1
        assert trunc.finish_reason == "length" and trunc.text == "I was cut"
        assert tools.finish_reason == "tool_calls" and tools.text == ""
        assert tools.extra["tool_calls"] == TOOL_CALLS  # the shape τ² reads (parse_completion's)
        assert plain_r.text == "The answer is (A)." and plain_r.finish_reason == "stop"


def test_an_error_in_the_stream_is_an_engine_error_and_retried(scripted_server):
    with scripted_server("--stream-error-first", "1") as srv:
        [r] = run(_all(srv, ["q"], max_retries=2, backoff=0.1))
        assert r.error is None and r.text == "The answer is (A)." and r.extra.get("retries") == 1
    with scripted_server("--stream-error-first", "9") as srv:
        [r] = run(_all(srv, ["q"], max_retries=1, backoff=0.1))
        assert r.error and "injected mid-stream failure" in r.error and "failed after 2 attempts" in r.error


def test_no_stream_option_sends_plain_requests(tmp_path, scripted_server):
    with scripted_server() as srv:
        out = tmp_path / "run"
        r = cli.invoke(app, ["run", "--benchmarks", "mmlu_pro", "--limit", "2", "--engine", "openai", "--model",
                             srv.model, "--base-url", srv.base_url, "--no-stream", "--no-progress", "--out", str(out)])
        assert r.exception is None or isinstance(r.exception, SystemExit), r.output
        assert all(x["error"] is None and x["extracted"] == "A" for x in read_samples(out))
        s = stats(srv)
        assert s["chat_requests"] == 2 and s["streams"] == 0


def test_retry_after_is_parsed_as_seconds_or_an_http_date():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412470.0) == 10.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=1445412490.0) == 0.0  # already past
    assert parse_retry_after("99999999") == 900.0  # capped
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None


def test_retry_after_is_honoured_and_backoff_releases_the_slot(scripted_server):
    """Concurrency 1: the first request gets 429 with Retry-After 4 s; while it waits, the second request takes the
    slot and finishes at once; the first retries after the 4 s, not after the 0.1 s backoff."""
    with scripted_server("--fail-first", "1", "--fail-status", "429", "--retry-after", "4") as srv:
        async def both():
            c = ChatClient(srv.base_url, srv.model, concurrency=1, max_retries=2, backoff=0.1)
            t0 = time.monotonic()
            done = {}

            async def one(name):
                r = await ask(c, name)
                done[name] = (time.monotonic() - t0, r)

            first = asyncio.create_task(one("first"))
            await asyncio.sleep(0)  # the first takes the slot
            await asyncio.gather(first, one("second"))
            await c.close()
            return done

        done = run(both())
        t_first, r_first = done["first"]
        t_second, r_second = done["second"]
        assert r_first.error is None and r_first.extra.get("retries") == 1 and t_first >= 4
        assert r_second.error is None and "retries" not in r_second.extra and t_second < 3
        assert stats(srv)["chat_requests"] == 3
