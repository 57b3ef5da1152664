"""Async OpenAI-compatible chat client: concurrency limit, retries with backoff, timeouts, reasoning split.

Requests are streamed (`stream: true` with `stream_options.include_usage`) by default, and the request timeout is an
idle timeout: an attempt fails when no byte arrives for `timeout` seconds, however long the whole answer takes (an
81,920-token reasoning answer at 20 tokens/s takes over an hour). The streamed chunks are assembled into the same
completion a non-streamed request returns (content, reasoning, finish_reason, usage, tool calls by index) and checked
by the same rules (parse_completion). A request waiting out its backoff (or a server's Retry-After) does not hold its
concurrency slot.

Built on aiohttp rather than httpx: httpcore's connection pool does work quadratic in the pool size on every request
(encode/httpcore PR #1035), which at the concurrency long reasoning runs need (256 in flight) made a run take 20× the
ideal time against a 200 ms server; aiohttp's connector ran the same load at 1.24× (bench/throughput.py).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import os
import random
import time
from datetime import timezone
from typing import Any, Callable

import aiohttp

from harness.engine.base import Request, Response, messages_sha256, split_reasoning
from harness.errors import EngineError, redact, register_secret

# HTTP statuses worth retrying: rate limits, overload, gateway trouble
RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}
# the longest Retry-After honoured (a server asking for a day is capped)
MAX_RETRY_AFTER = 900.0


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date; None if absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return min(max(float(value), 0.0), MAX_RETRY_AFTER)
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = time.time() if now is None else now
    return min(max(when.timestamp() - now, 0.0), MAX_RETRY_AFTER)


class _Retryable(Exception):
    """An attempt that failed in a way another attempt may not (a mid-stream error, a malformed answer)."""


class ChatClient:
    """Sends chat completions to `base_url` (ending in /v1).

    `alive` is an optional callable raising EngineError when the server behind the URL is known dead, so that a
    dying server fails the run at once with its log instead of burning retries.
    """

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        concurrency: int = 256,
        timeout: float = 3600.0,
        max_retries: int = 5,
        backoff: float = 1.0,
        alive: Callable[[], None] | None = None,
        stream: bool = True,
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        self._token_counts: dict[str, int] = {}  # prompt tokens by messages_sha256
        self.max_retries = max_retries
        self.backoff = backoff
        self.alive = alive
        self.stream = stream
        self._sem = asyncio.Semaphore(concurrency)
        self._headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        # an idle timeout: no total, but no byte for `timeout` seconds fails the attempt (sock_read is per read)
        self._timeout = aiohttp.ClientTimeout(total=None, connect=30.0, sock_connect=30.0, sock_read=timeout)
        self._concurrency = concurrency
        self._http: aiohttp.ClientSession | None = None

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:  # created lazily: a session belongs to the running event loop
            self._http = aiohttp.ClientSession(
                headers=self._headers,
                timeout=self._timeout,
                connector=aiohttp.TCPConnector(limit=self._concurrency, limit_per_host=self._concurrency),
            )
        return self._http

    async def close(self) -> None:
        if self._http is not None:
            await self._http.close()
            self._http = None

    async def models(self) -> list[str]:
        async with self._session().get(f"{self.base_url}/models", timeout=aiohttp.ClientTimeout(total=10)) as r:
            r.raise_for_status()
            return [m["id"] for m in (await r.json()).get("data", [])]

    async def model_info(self) -> dict:
        """The served model's entry in GET /models (vLLM reports `max_model_len` there); {} if unavailable."""
        try:
            async with self._session().get(f"{self.base_url}/models", timeout=aiohttp.ClientTimeout(total=30)) as r:
                if r.status != 200:
                    return {}
                data = (await r.json()).get("data", [])
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError):
            return {}
        return next((m for m in data if m.get("id") == self.model), data[0] if data else {})

    async def count_tokens(self, messages: list[dict]) -> int | None:
        """Prompt tokens with the chat template applied, from vLLM's POST /tokenize; None if not served."""
        key = messages_sha256(messages)
        if key in self._token_counts:  # counted before the run (harness.fit) and again before sending
            return self._token_counts[key]
        root = self.base_url.removesuffix("/v1")
        body = {"model": self.model, "messages": messages, "add_generation_prompt": True}
        try:
            async with self._session().post(f"{root}/tokenize", json=body,
                                            timeout=aiohttp.ClientTimeout(total=120)) as r:
                if r.status != 200:
                    return None
                n = self._token_counts[key] = int((await r.json())["count"])
                return n
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError, KeyError):
            return None

    async def check_reachable(self) -> None:
        """Fail before any work is scheduled when nothing answers at the URL (any HTTP answer will do: some
        gateways do not serve /models), or when the server lists the models it serves and ours is not among them
        (vLLM lists every --served-model-name and LoRA module there): otherwise every request would get a 404."""
        try:
            async with self._session().get(f"{self.base_url}/models", timeout=aiohttp.ClientTimeout(total=30)) as r:
                listed = (await r.json(content_type=None)).get("data") if r.status == 200 else None
        except (aiohttp.ClientError, asyncio.TimeoutError) as e:
            raise EngineError(redact(f"cannot reach {self.base_url}: {type(e).__name__}: {e}. Check --base-url and "
                                     "that the server is up")) from None
        except (ValueError, AttributeError):  # not JSON, or not an object: a gateway's own page; requests will tell
            return
        ids = [m.get("id") for m in listed if isinstance(m, dict)] if isinstance(listed, list) else []
        if ids and self.model not in ids:
            raise EngineError(redact(f"{self.base_url} does not serve a model named {self.model!r}; it serves "
                                     f"{', '.join(map(repr, ids[:10]))}{' ...' if len(ids) > 10 else ''}. Give one "
                                     "of those with --model, or --served-model-name when --model is a path"))

    def body(self, request: Request) -> dict[str, Any]:
        p = request.params
        body: dict[str, Any] = {"model": self.model, "messages": request.messages}
        for k in ("temperature", "top_p", "top_k", "max_tokens", "stop", "presence_penalty"):
            v = getattr(p, k)
            if v is not None:
                body[k] = v
        if request.seed is not None:
            body["seed"] = request.seed
        body.update(p.extra)
        return body

    async def generate(self, request: Request) -> Response:
        body = self.body(request)
        if self.stream:
            body["stream"] = True
            body["stream_options"] = {**(body.get("stream_options") or {}), "include_usage": True}
        t0 = time.perf_counter()
        last_error = ""
        for attempt in range(self.max_retries + 1):
            if self.alive:
                self.alive()
            retry_after = None
            async with self._sem:  # held for the attempt only, never while backing off
                try:
                    async with self._session().post(f"{self.base_url}/chat/completions", json=body) as r:
                        status = r.status
                        if status == 200:
                            data = await self._read_completion(r)
                            try:
                                return parse_completion(data, time.perf_counter() - t0, attempt)
                            except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
                                raise ValueError(f"{e}: {json.dumps(data)[:300]}") from None
                        text = await r.text()
                        retry_after = parse_retry_after(r.headers.get("Retry-After")) if status in (429, 503) \
                            else None
                except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                    last_error = f"{type(e).__name__}: {e}"
                    if isinstance(e, asyncio.TimeoutError):
                        last_error += f" (no data for {self._timeout.sock_read:g}s: --request-timeout)"
                    status = None
                except _Retryable as e:
                    last_error = str(e)
                    status = None
                except (ValueError, KeyError, IndexError, TypeError, AttributeError) as e:
                    last_error = f"malformed response from server: {e}"
                    status = None
                if status is not None:
                    if status in RETRYABLE_STATUS:
                        last_error = f"HTTP {status}: {text[:300]}"
                    else:  # 400 (e.g. prompt longer than max_model_len), 401, 404: retrying will not help
                        return Response(
                            text="",
                            error=redact(f"HTTP {status}: {text[:500]}"),
                            latency_s=time.perf_counter() - t0,
                        )
            if attempt < self.max_retries:
                delay = self.backoff * (2**attempt) * (0.5 + random.random())
                await asyncio.sleep(retry_after if retry_after is not None else delay)
        if self.alive:
            self.alive()
        return Response(
            text="",
            error=redact(f"failed after {self.max_retries + 1} attempts: {last_error}"),
            latency_s=time.perf_counter() - t0,
        )

    async def _read_completion(self, r: aiohttp.ClientResponse) -> dict:
        """The completion of a 200 answer: a streamed one (text/event-stream) assembled from its chunks, else the
        JSON body (a server that does not stream, or a request that did not ask to). Raises ValueError for what is
        not a completion, _Retryable for an error the server sent mid-stream."""
        if "text/event-stream" not in r.headers.get("Content-Type", ""):
            text = await r.text()
            try:
                return json.loads(text)
            except ValueError as e:
                raise ValueError(f"{e}: {text[:300]}") from None
        acc = _StreamAssembler()
        buf = b""
        event: list[bytes] = []
        async for piece in r.content.iter_any():
            buf += piece
            while True:
                nl = buf.find(b"\n")
                if nl < 0:
                    break
                line, buf = buf[:nl].rstrip(b"\r"), buf[nl + 1:]
                if line:
                    if line.startswith(b"data:"):
                        event.append(line[5:].lstrip(b" ") if line[5:6] == b" " else line[5:])
                    continue  # comments (":"), event names and ids carry nothing here
                if event and acc.feed(b"\n".join(event)):
                    return acc.completion()
                event = []
        if event and acc.feed(b"\n".join(event)):
            return acc.completion()
        raise _Retryable("malformed response from server: the stream ended before data: [DONE]")


class _StreamAssembler:
    """Chat completion chunks (OpenAI / vLLM streaming) assembled into one chat completion."""

    def __init__(self) -> None:
        self.seen_choice = False
        self.content: list[str] | None = None
        self.reasoning: list[str] = []
        self.finish_reason: str | None = None
        self.tool_calls: dict[int, dict] = {}
        self.usage: dict | None = None

    def feed(self, data: bytes) -> bool:
        """One event's data; True at `[DONE]`."""
        if data.strip() == b"[DONE]":
            return True
        try:
            chunk = json.loads(data)
        except ValueError as e:
            raise ValueError(f"a stream chunk is not JSON ({e}): {data[:300]!r}") from None
        if not isinstance(chunk, dict):
            raise ValueError(f"a stream chunk is not an object: {data[:300]!r}")
        if chunk.get("error") is not None:  # vLLM reports a failure after the 200 status as a data event
            err = chunk["error"]
            msg = err.get("message", err) if isinstance(err, dict) else err
            raise _Retryable(redact(f"error in the stream: {msg}"[:500]))
        if isinstance(chunk.get("usage"), dict):
            self.usage = chunk["usage"]
        choices = chunk.get("choices")
        if choices is None and "usage" in chunk:
            return False
        if not isinstance(choices, list):
            raise ValueError(f"a stream chunk has no choices list: {data[:300]!r}")
        for choice in choices:
            if not isinstance(choice, dict) or choice.get("index", 0) != 0:
                continue  # n=1: only the first choice
            delta = choice.get("delta")
            if not isinstance(delta, dict):
                raise ValueError(f"a stream choice has no delta object: {data[:300]!r}")
            self.seen_choice = True
            c = delta.get("content")
            if c is not None:
                if not isinstance(c, str):
                    raise ValueError(f"delta content is a {type(c).__name__}, not text")
                (self.content if self.content is not None else self._start_content()).append(c)
            rz = delta.get("reasoning")
            if rz is None:
                rz = delta.get("reasoning_content")  # vLLM before 0.33
            if rz is not None:
                if not isinstance(rz, str):
                    raise ValueError(f"delta reasoning is a {type(rz).__name__}, not text")
                self.reasoning.append(rz)
            for tc in delta.get("tool_calls") or []:
                self._tool_call_delta(tc)
            if choice.get("finish_reason") is not None:
                self.finish_reason = choice["finish_reason"]
        return False

    def _start_content(self) -> list[str]:
        self.content = []
        return self.content

    def _tool_call_delta(self, tc: dict) -> None:
        if not isinstance(tc, dict):
            raise ValueError("a tool-call delta is not an object")
        ix = tc.get("index", len(self.tool_calls))
        call = self.tool_calls.setdefault(ix, {"id": None, "type": "function",
                                               "function": {"name": "", "arguments": ""}})
        if tc.get("id"):
            call["id"] = tc["id"]
        if tc.get("type"):
            call["type"] = tc["type"]
        fn = tc.get("function") or {}
        if not isinstance(fn, dict):
            raise ValueError("a tool-call delta's function is not an object")
        if fn.get("name"):
            call["function"]["name"] += fn["name"]
        if fn.get("arguments"):
            call["function"]["arguments"] += fn["arguments"]

    def completion(self) -> dict:
        """What a non-streamed request would have answered (parse_completion checks it)."""
        if not self.seen_choice:
            return {"choices": [], "usage": self.usage}
        message: dict[str, Any] = {"role": "assistant",
                                   "content": "".join(self.content) if self.content is not None else None}
        if self.reasoning:
            message["reasoning"] = "".join(self.reasoning)
        if self.tool_calls:
            message["tool_calls"] = [self.tool_calls[k] for k in sorted(self.tool_calls)]
        return {"choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
                "usage": self.usage}


def parse_completion(data: dict, latency: float, retries: int = 0) -> Response:
    """A chat completion as a Response. Anything that is not a well-formed completion raises ValueError (the caller
    records an engine error and retries): no choice or message, content that is not text, an answer with neither
    content, reasoning nor tool calls, text that is not valid Unicode."""
    if not isinstance(data, dict) or not isinstance(data.get("choices"), list) or not data["choices"]:
        raise ValueError("no choices")
    choice = data["choices"][0]
    if not isinstance(choice, dict) or not isinstance(choice.get("message"), dict):
        raise ValueError("the first choice has no message object")
    msg = choice["message"]
    content = msg.get("content")
    server_reasoning = msg.get("reasoning") or msg.get("reasoning_content")
    for name, value in (("content", content), ("reasoning", server_reasoning)):
        if value is not None and not isinstance(value, str):
            raise ValueError(f"message {name} is a {type(value).__name__}, not text")
        try:
            (value or "").encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"message {name} is not valid Unicode (a lone surrogate)") from None
    if content is None and not server_reasoning and not msg.get("tool_calls") and choice.get("finish_reason") != "length":
        raise ValueError("the message has no content, reasoning or tool calls")
    content = content or ""
    # vLLM: `reasoning` (0.33.0) or `reasoning_content` (older releases) when a reasoning parser is enabled
    text, reasoning = split_reasoning(content, server_reasoning)
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    details = usage.get("completion_tokens_details") if isinstance(usage.get("completion_tokens_details"), dict) \
        else {}
    extra: dict[str, Any] = {}
    if msg.get("tool_calls"):
        extra["tool_calls"] = msg["tool_calls"]
    if retries:
        extra["retries"] = retries
    return Response(
        text=text,
        reasoning=reasoning,
        finish_reason=choice.get("finish_reason"),
        prompt_tokens=usage.get("prompt_tokens"),
        completion_tokens=usage.get("completion_tokens"),
        reasoning_tokens=details.get("reasoning_tokens"),
        latency_s=latency,
        extra=extra,
    )


def api_key_from_env(var: str) -> str | None:
    """The API key is read from the named environment variable at run time and never written anywhere: its value
    is registered for redaction, so that an error body echoing it (a 401 that quotes the bearer token) is stored
    and printed with [REDACTED] in its place."""
    key = os.environ.get(var) or None
    register_secret(key)
    return key


async def wait_healthy(
    base_url: str, timeout: float, check_process: Callable[[], None] | None = None, interval: float = 0.5
) -> list[str]:
    """Poll GET {base_url}/models until it answers 200 or `timeout` passes; `check_process` raises if the server
    process has exited (fail fast instead of waiting out the timeout)."""
    deadline = time.monotonic() + timeout
    last = "no answer yet"
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=5.0)) as http:
        while True:
            if check_process:
                check_process()
            try:
                async with http.get(f"{base_url.rstrip('/')}/models") as r:
                    if r.status == 200:
                        return [m["id"] for m in (await r.json()).get("data", [])]
                    last = f"HTTP {r.status}"
            except (aiohttp.ClientError, asyncio.TimeoutError) as e:
                last = f"{type(e).__name__}"
            if time.monotonic() >= deadline:
                raise EngineError(
                    f"server at {base_url} did not become healthy within {timeout:.0f}s (last: {last}); "
                    "raise the startup timeout (--startup-timeout) or check the server log"
                )
            await asyncio.sleep(interval)
