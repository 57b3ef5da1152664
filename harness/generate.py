"""Stage 1: the generation workers. Each asks the model (or, for agents, runs the conversation) for one work item,
appends a generation record, and hands the answer to the score pool; a worker never waits for a scorer.

Order (`schedule`): longest expected first across all benchmarks, so that the run does not end on a tail of a few
long reasoning answers while the server idles; the repeats of one prompt next to each other, and prompts that share a
prefix (AA-LCR questions over the same documents) next to each other, so that the server's prefix cache still holds
them. The expected length of an item is what its other repeats already produced (on resume), else the mean of its
benchmark's finished items, else its output budget (max_tokens).
"""

from __future__ import annotations

import asyncio
from typing import Any

from harness import images
from harness.benchmarks import Benchmark, Sample
from harness.benchmarks.base import Prompt, Roles
from harness.config import GenerationParams
from harness.engine.base import Engine, Request, Response
from harness.errors import EngineError
from harness.records import Generation
from harness.score import ScorePool, prompt_sha256
from harness.store import RunRecords, RunStore


async def context_overflow(engine: Engine, messages: list, params: GenerationParams) -> Response | None:
    """A Response carrying an error when the prompt cannot fit the engine's context with max_tokens on top; None
    when it fits or the engine cannot tell (then the server's own refusal is recorded)."""
    limit = getattr(engine, "max_context", None)
    count = getattr(engine, "count_tokens", None)
    if not limit or count is None:
        return None
    n = await count(messages)
    if n is None or n + (params.max_tokens or 0) <= limit:
        return None
    return Response(text="", prompt_tokens=n, error=(
        f"context overflow: the prompt is {n} tokens and max_tokens {params.max_tokens or 0} more, over the "
        f"engine's maximum context of {limit}; not sent. Raise --max-model-len (vLLM) or lower --max-tokens"),
        extra={"context_overflow": True})


async def fit_to_context(engine: Engine, messages: list, params: GenerationParams) \
        -> tuple[GenerationParams, int | None, Response | None]:
    """(settings to send, the max_tokens they were cut from or None, a context-overflow Response or None): max_tokens
    is cut to the engine's context left after the prompt, so that no request asks for more than the model can
    write. The prompt is counted only when one token per byte (plus a margin for the chat template) could not
    prove that it fits; a prompt that alone fills the context is an overflow, not sent. Engines that cannot count
    (no max_context or count_tokens) get the settings unchanged."""
    from harness.fit import TEMPLATE_MARGIN, _messages_bytes

    limit = getattr(engine, "max_context", None)
    count = getattr(engine, "count_tokens", None)
    want = params.max_tokens
    if not limit or count is None or not want:
        return params, None, None
    if want < limit and _messages_bytes(messages) + TEMPLATE_MARGIN + want <= limit:
        return params, None, None
    n = await count(messages)
    if n is None or n + want <= limit:
        return params, None, None
    if n >= limit:
        return params, None, Response(text="", prompt_tokens=n, error=(
            f"context overflow: the prompt alone is {n} tokens, the engine's maximum context {limit}; not sent. "
            "Raise --max-model-len (vLLM) or use a model with a longer context"), extra={"context_overflow": True})
    return params.merged({"max_tokens": limit - n}), want, None


def generation_record(name: str, sample: Sample, repeat: int, seed: int, prompt: Prompt, params: GenerationParams,
                      response: Response, clamped_from: int | None = None) -> Generation:
    extra = dict(response.extra or {})
    overflow = extra.pop("context_overflow", False)
    return Generation(
        benchmark=name, sample_id=sample.id, repeat=repeat, seed=seed, category=sample.category,
        prompt_sha256=prompt_sha256(prompt), image_sha256=images.image_sha256(prompt.messages) or None,
        prompt_meta=prompt.meta or None,
        request=params.model_dump(mode="json", exclude_none=True), response=response.text or "",
        reasoning=response.reasoning, finish_reason=response.finish_reason, prompt_tokens=response.prompt_tokens,
        completion_tokens=response.completion_tokens, reasoning_tokens=response.reasoning_tokens,
        latency_s=round(response.latency_s, 4) if response.latency_s is not None else None, error=response.error,
        max_tokens_clamped_from=clamped_from,
        error_kind=("context" if overflow else "engine") if response.error else None,
        engine_extra=extra or None)


def schedule(todo: list[tuple[Any, Sample, int]], records: RunRecords | None = None) \
        -> list[tuple[Any, Sample, int]]:
    """`todo` ((plan, sample, repeat)) in generation order: groups of items that share a prompt prefix, longest
    expected first; within a group, its samples longest first and each sample's repeats in order."""
    observed: dict[tuple[str, str], list[int]] = {}
    by_bench: dict[str, list[int]] = {}
    if records is not None:
        for (b, sid, _), g in records.generations.items():
            if g.error is None and g.completion_tokens is not None:
                observed.setdefault((b, sid), []).append(g.completion_tokens)
                by_bench.setdefault(b, []).append(g.completion_tokens)

    def expected(plan: Any, sample: Sample) -> float:
        seen = observed.get((plan.name, sample.id)) or by_bench.get(plan.name)
        if seen:
            return sum(seen) / len(seen)
        return float(plan.params.max_tokens or 0)

    groups: dict[tuple[str, str], list[tuple[Any, Sample, int]]] = {}
    for item in todo:
        plan, sample, _ = item
        prefix = plan.benchmark.prefix_key(sample)
        groups.setdefault((plan.name, prefix if prefix is not None else f"sample:{sample.id}"), []).append(item)
    weight = {k: max(expected(p, s) for p, s, _ in v) for k, v in groups.items()}
    out: list[tuple[Any, Sample, int]] = []
    for k in sorted(groups, key=lambda k: -weight[k]):  # stable: equal weights keep plan order
        items = groups[k]
        order = {}
        for p, s, _ in items:
            order.setdefault(s.id, expected(p, s))
        out += sorted(items, key=lambda it: (-order[it[1].id], it[1].id, it[2]))
    return out


async def generate(todo: list[tuple[Any, Sample, int]], engine: Engine, roles: Roles, store: RunStore,
                   pool: ScorePool, opts: Any) -> int:
    """Generate every item in `todo` ((plan, sample, repeat)); returns how many were run. Raises EngineError when
    the engine fails for good (finished items are already on disk)."""
    todo = schedule(todo, store.records)
    counts: dict[str, int] = {}
    for p, _, _ in todo:
        counts[p.name] = counts.get(p.name, 0) + 1
    progress = opts.progress(counts) if opts.progress else None
    if progress is not None and hasattr(progress, "track"):  # tokens: rate, ETA from tokens, the engine's live count
        live = (lambda: engine.tokens_generated) if hasattr(engine, "tokens_generated") else None
        progress.track({p.name: p.params.max_tokens for p, _, _ in todo}, live)
    it = iter(todo)
    state: dict[str, Any] = {"consecutive_errors": 0, "abort": None}

    async def worker() -> None:
        for plan, sample, repeat in it:
            if state["abort"]:
                return
            bench: Benchmark = plan.benchmark
            seed = bench.item_seed(sample.id, repeat)
            params, clamped, flight = plan.params, None, None
            try:
                prompt = bench.prompt(sample, repeat)
                if bench.spec.options.get("check_context"):  # the benchmark refuses what cannot fit its budget
                    overflow = await context_overflow(engine, prompt.messages, params)
                else:  # others get the room the context leaves
                    params, clamped, overflow = await fit_to_context(engine, prompt.messages, params)
                request = Request(prompt.messages, params, seed=seed, key=(plan.name, sample.id, repeat))
                if progress and hasattr(progress, "begin"):
                    flight = progress.begin(plan.name)
                response = overflow or await bench.solve(sample, prompt, request, roles)
            except EngineError as e:
                state["abort"] = e
                return
            finally:
                if flight is not None:
                    progress.end(flight)
            gen = generation_record(plan.name, sample, repeat, seed, prompt, params, response, clamped)
            store.append_generation(gen)
            if progress:
                progress.advance(plan.name, gen.completion_tokens)
            if gen.error is None:
                pool.submit(bench, plan.scorer, sample, prompt, gen, check_prompt=False)
                state["consecutive_errors"] = 0
            else:
                state["consecutive_errors"] += 1
                if state["consecutive_errors"] >= opts.max_consecutive_errors:
                    state["abort"] = EngineError(
                        f"{state['consecutive_errors']} requests in a row failed; last error: {gen.error}")
                    return

    try:
        n = max(1, min(opts.workers, len(todo)))
        await asyncio.gather(*(worker() for _ in range(n)))
    finally:
        if progress:
            progress.stop()
    if state["abort"]:
        raise state["abort"]
    return len(todo)
