"""A small OpenAI-compatible server (`/v1/models`, `/v1/chat/completions`) on 127.0.0.1.

It takes vLLM's command line (`serve MODEL --host H --port P …`, unknown vLLM flags are ignored), so the vllm
engine's launcher is exercised end to end without a GPU. Backends:
  --backend hf        a real model through the in-process transformers engine (default: the embedded SmolLM2)
  --backend scripted  replies from --reply TEXT or --reply-file RULES.json ([{"match": "substr", "reply": "...",
                      "finish_reason": "stop", "reasoning": "..."}], first match on the last user message wins)
Fault injection for tests: --latency S (sleep per request), --never-healthy (503 on /v1/models), --die-after N
(exit abruptly after N completions), --fail-first N (HTTP --fail-status, default 503, on the first N completions,
with a --retry-after header when given).
Streaming (`stream: true`) is answered as vLLM 0.33 streams: SSE `data: {...}` chunks (`delta.role`, then
`delta.reasoning` with --reasoning-parser, `delta.content` word by word, tool-call deltas by index), a chunk with the
finish_reason, a usage chunk with `choices: []` when `stream_options.include_usage`, then `data: [DONE]`.
--stream-delay S sleeps between chunks; --stall-first N --stall S goes silent for S seconds after the first chunk of
the first N streams; --stream-error-first N sends `data: {"error": ...}` mid-stream on the first N streams.
Scripted rules may also give "tool_calls" ([{"id", "type", "function": {"name", "arguments"}}]).
Images: user content may be a list of OpenAI parts (`text`, `image_url` with a base64 data URL). Each image is decoded
and opened as vLLM 0.33.0 does (harness.images); a malformed one, an unknown part type, or more images than
--limit-mm-per-prompt (vLLM's JSON form, e.g. '{"image": 2}'; default 999 as vLLM) is refused with HTTP 400. A
scripted rule may match an image instead of text ("image_sha256": the sha256 of the image's bytes). /stats counts
the images received (`images`, `image_sha256`, and the limit in force); scripted token counts take each image as
IMAGE_TOKENS tokens.

    python -m harness.serve serve smollm2-135m --port 8000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import time
import uuid

from aiohttp import web

from harness import images as img

IMAGE_TOKENS = 64  # what one image counts as in scripted token counts (the stand-in has no vision processor)


def parse_args(argv: list[str]) -> tuple[argparse.Namespace, list[str]]:
    p = argparse.ArgumentParser(prog="python -m harness.serve")
    p.add_argument("command", choices=["serve"])
    p.add_argument("model")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--served-model-name", default=None)
    p.add_argument("--reasoning-parser", default=None)
    p.add_argument("--api-key", default=None, help="require this bearer token (as vLLM's --api-key)")
    p.add_argument("--backend", choices=["hf", "scripted"], default="hf")
    p.add_argument("--reply", default="The answer is (A).")
    p.add_argument("--reply-file", default=None)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--never-healthy", action="store_true")
    p.add_argument("--die-after", type=int, default=None)
    p.add_argument("--fail-first", type=int, default=0)
    p.add_argument("--fail-status", type=int, default=503)
    p.add_argument("--retry-after", default=None, help="Retry-After header of the --fail-first answers")
    p.add_argument("--stream-delay", type=float, default=0.0, help="seconds between streamed chunks")
    p.add_argument("--stall-first", type=int, default=0, help="the first N streams go silent after one chunk")
    p.add_argument("--stall", type=float, default=0.0, help="seconds a stalled stream stays silent")
    p.add_argument("--stream-error-first", type=int, default=0,
                   help="the first N streams send a data: {\"error\": ...} event mid-stream")
    p.add_argument("--startup-delay", type=float, default=0.0)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--limit-mm-per-prompt", type=json.loads, default={},
                   help="vLLM's JSON form, e.g. '{\"image\": 2}'; more images in one prompt are refused (HTTP 400)")
    p.add_argument("--max-model-len", type=int, default=None,
                   help="reported in /v1/models (default: the model's, or 32768 when scripted)")
    return p.parse_known_args(argv)


class Scripted:
    max_model_len = 32768

    def __init__(self, reply: str, rules_path: str | None):
        self.reply = reply
        self.rules = json.load(open(rules_path, encoding="utf-8")) if rules_path else []

    def count_tokens(self, messages: list[dict]) -> int:
        """Scripted mode has no tokenizer: whitespace-separated words stand in for tokens, IMAGE_TOKENS per image."""
        return word_count(messages)

    async def complete(self, body: dict) -> dict:
        last = next((m for m in reversed(body["messages"]) if m.get("role") == "user"), {"content": ""})
        content = img.text_of(last.get("content"))
        shas = set(img.image_sha256(body["messages"]))
        for rule in self.rules:
            want = rule.get("image_sha256")
            if rule.get("match", "") in content and (want is None or want in shas):
                if "raw" in rule:  # fault injection: this exact body (or text) is the 200 response
                    return {"raw": rule["raw"]}
                return {
                    "content": rule.get("reply", "" if rule.get("tool_calls") else None),
                    "reasoning": rule.get("reasoning"),
                    "tool_calls": rule.get("tool_calls"),
                    "finish_reason": rule.get("finish_reason", "tool_calls" if rule.get("tool_calls") else "stop"),
                }
        return {"content": self.reply, "reasoning": None, "finish_reason": "stop"}


class HFBackend:
    def __init__(self, model: str, batch_size: int):
        from harness.config import ModelSpec
        from harness.engine.hf import HFEngine

        self.engine = HFEngine(ModelSpec(engine="hf", model=model, batch_size=batch_size))

    async def start(self) -> None:
        from pathlib import Path

        await self.engine.start(Path("."))
        self.max_model_len = self.engine.max_context

    def count_tokens(self, messages: list[dict]) -> int:
        return self.engine.prompt_length(messages)

    async def complete(self, body: dict) -> dict:
        from harness.config import GenerationParams
        from harness.engine.base import Request

        params = GenerationParams(
            temperature=body.get("temperature"),
            top_p=body.get("top_p"),
            max_tokens=body.get("max_tokens") or body.get("max_completion_tokens"),
            stop=body.get("stop"),
        )
        r = await self.engine.generate(Request(messages=body["messages"], params=params, seed=body.get("seed")))
        if r.error:
            raise RuntimeError(r.error)
        return {
            "content": r.text,
            "reasoning": r.reasoning,
            "finish_reason": r.finish_reason,
            "prompt_tokens": r.prompt_tokens,
            "completion_tokens": r.completion_tokens,
        }


def word_count(messages: list[dict]) -> int:
    return sum(len(img.text_of(m.get("content")).split()) for m in messages) + IMAGE_TOKENS * img.count(messages)


def image_problem(body: dict, limit: dict) -> str | None:
    """What vLLM 0.33.0 refuses in the content parts of a request: a part type it does not know, an image that is not
    a base64 data URL or cannot be decoded, more images than --limit-mm-per-prompt."""
    for m in body.get("messages") or []:
        content = m.get("content")
        if not isinstance(content, list):
            continue
        for part in content:
            kind = part.get("type") if isinstance(part, dict) else "text"
            if kind not in ("text", "image_url"):
                return f"Unknown part type: {kind}"
    for url in img.image_urls(body.get("messages") or []):
        try:
            img.check_url(url)
        except ValueError as e:
            return str(e)
    most = limit.get("image", 999)
    most = most.get("count", 999) if isinstance(most, dict) else most
    n = img.count(body.get("messages") or [])
    if n > most:
        return f"At most {most} image(s) may be provided in one prompt."
    return None


def request_problem(body: dict) -> str | None:
    """The tool checks of vLLM's ChatCompletionRequest (0.33.0, `check_tool_usage`) that a stand-in can make."""
    if body.get("tools") == []:
        return "`tools` must not be an empty array. Either provide at least one tool or omit the field entirely."
    choice = body.get("tool_choice")
    if choice not in (None, "none") and body.get("tools") is None:
        return "When using `tool_choice`, `tools` must be set."
    return None


def build_app(args: argparse.Namespace, backend) -> web.Application:
    name = args.served_model_name or args.model
    state: dict = {"completions": 0, "streams": 0, "images": 0, "image_sha256": []}

    async def models(_request: web.Request) -> web.Response:
        if args.never_healthy:
            return web.json_response({"error": "loading"}, status=503)
        card = {"id": name, "object": "model", "owned_by": "harness",
                "max_model_len": args.max_model_len or backend.max_model_len}
        return web.json_response({"object": "list", "data": [card]})

    async def tokenize(request: web.Request) -> web.Response:
        body = await request.json()
        return web.json_response({"count": backend.count_tokens(body.get("messages", [])),
                                  "max_model_len": args.max_model_len or backend.max_model_len})

    async def chat(request: web.Request) -> web.Response:
        if args.api_key and request.headers.get("Authorization") != f"Bearer {args.api_key}":
            return web.json_response({"error": {"message": "unauthorized"}}, status=401)
        body = await request.json()
        state["completions"] += 1
        n = state["completions"]
        if args.die_after is not None and n > args.die_after:
            sys.stderr.write(f"fault injection: dying after {args.die_after} completions\n")
            sys.stderr.flush()
            os._exit(3)
        if n <= args.fail_first:
            headers = {"Retry-After": args.retry_after} if args.retry_after else None
            return web.json_response({"error": {"message": "overloaded (injected)"}}, status=args.fail_status,
                                     headers=headers)
        problem = request_problem(body)
        if not problem and any(isinstance(m.get("content"), list) for m in body.get("messages") or []):
            # content parts: checked (images decoded) off the event loop
            problem = await asyncio.to_thread(image_problem, body, args.limit_mm_per_prompt)
        if problem:  # what vLLM's request model refuses, refused the same way (HTTP 400)
            return web.json_response({"error": {"message": problem, "type": "BadRequestError", "code": 400}},
                                     status=400)
        if body.get("model") != name:
            return web.json_response({"error": {"message": f"model {body.get('model')!r} not served"}}, status=404)
        shas = img.image_sha256(body["messages"])
        state["images"] += len(shas)
        state["image_sha256"] = (state["image_sha256"] + shas)[-1000:]
        if args.latency:
            await asyncio.sleep(args.latency)
        out = await backend.complete(body)
        if "raw" in out:
            raw = out["raw"]
            return web.Response(text=raw if isinstance(raw, str) else json.dumps(raw), content_type="application/json")
        content, reasoning, tool_calls = out["content"], out.get("reasoning"), out.get("tool_calls")
        message = {"role": "assistant", "content": content}
        if reasoning is not None and args.reasoning_parser:
            message["reasoning"] = reasoning  # vLLM's field (0.33.0; `reasoning_content` was the older name)
        elif reasoning:
            message["content"] = f"<think>{reasoning}</think>{content or ''}"
            content = message["content"]
            reasoning = None
        if tool_calls:
            message["tool_calls"] = tool_calls
        prompt_tokens = out.get("prompt_tokens") or word_count(body["messages"])
        completion_tokens = out.get("completion_tokens") or len((content or "").split()) + len((reasoning or "").split())
        usage = {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens + completion_tokens,
                 "completion_tokens": completion_tokens}
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time())
        if body.get("stream"):
            return await stream(request, body, cid, created, content, reasoning, tool_calls, out["finish_reason"],
                                usage)
        return web.json_response(
            {
                "id": cid,
                "object": "chat.completion",
                "created": created,
                "model": name,
                "choices": [{"index": 0, "message": message, "finish_reason": out["finish_reason"]}],
                "usage": usage,
            }
        )

    async def stream(request: web.Request, body: dict, cid: str, created: int, content: str | None,
                     reasoning: str | None, tool_calls: list | None, finish_reason: str,
                     usage: dict) -> web.StreamResponse:
        """The completion as vLLM 0.33 streams it (serving_chat.chat_completion_stream_generator)."""
        state["streams"] += 1
        k = state["streams"]
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream; charset=utf-8"})
        await resp.prepare(request)

        def chunk(delta: dict, finish: str | None = None) -> dict:
            return {"id": cid, "object": "chat.completion.chunk", "created": created, "model": name,
                    "choices": [{"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}]}

        events = [chunk({"role": "assistant", "content": ""})]
        for piece in re.findall(r"\s*\S+\s*", reasoning or ""):
            events.append(chunk({"reasoning": piece}))
        for piece in re.findall(r"\s*\S+|\s+$", content or ""):
            events.append(chunk({"content": piece}))
        for i, tc in enumerate(tool_calls or []):
            fn = tc.get("function") or {}
            events.append(chunk({"tool_calls": [{"id": tc.get("id"), "type": tc.get("type", "function"), "index": i,
                                                 "function": {"name": fn.get("name"), "arguments": ""}}]}))
            args_text = fn.get("arguments") or ""
            for j in range(0, len(args_text), 8):
                events.append(chunk({"tool_calls": [{"index": i, "function": {"arguments": args_text[j:j + 8]}}]}))
        events.append(chunk({}, finish_reason))
        if (body.get("stream_options") or {}).get("include_usage"):
            events.append({"id": cid, "object": "chat.completion.chunk", "created": created, "model": name,
                           "choices": [], "usage": usage})
        for i, event in enumerate(events):
            if i and args.stream_delay:
                await asyncio.sleep(args.stream_delay)
            if i == 1 and k <= args.stall_first:
                await asyncio.sleep(args.stall)
            if i == min(2, len(events) - 1) and k <= args.stream_error_first:
                err = {"error": {"message": "injected mid-stream failure", "type": "InternalServerError",
                                 "code": 500}}
                await resp.write(f"data: {json.dumps(err)}\n\n".encode())
                break
            await resp.write(f"data: {json.dumps(event, ensure_ascii=False)}\n\n".encode())
        await resp.write(b"data: [DONE]\n\n")
        await resp.write_eof()
        return resp

    app = web.Application(client_max_size=512 * 1024 * 1024)
    app.router.add_get("/v1/models", models)
    app.router.add_get("/health", models)
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_post("/tokenize", tokenize)

    async def stats(_request: web.Request) -> web.Response:  # tests count what reached the server
        return web.json_response({"chat_requests": state["completions"], "streams": state["streams"],
                                  "images": state["images"], "image_sha256": state["image_sha256"],
                                  "limit_mm_per_prompt": args.limit_mm_per_prompt})

    app.router.add_get("/stats", stats)
    return app


async def main_async(args: argparse.Namespace) -> None:
    if args.startup_delay:
        await asyncio.sleep(args.startup_delay)
    if args.backend == "hf":
        backend = HFBackend(args.model, args.batch_size)
        await backend.start()
    else:
        backend = Scripted(args.reply, args.reply_file)
    runner = web.AppRunner(build_app(args, backend), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, args.host, args.port, backlog=4096)
    await site.start()
    print(f"serving {args.model} on http://{args.host}:{args.port}/v1 (backend {args.backend})", flush=True)
    await asyncio.Event().wait()


def main(argv: list[str] | None = None) -> None:
    args, unknown = parse_args(sys.argv[1:] if argv is None else argv)
    if unknown:
        print(f"ignoring vLLM arguments: {' '.join(unknown)}", flush=True)
    try:
        asyncio.run(main_async(args))
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
