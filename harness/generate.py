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


def generation_record(name: str, sample: Sample, repeat: int, seed: int, prompt: Prompt, params: GenerationParams,
                      response: Response) -> Generation:
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
    it = iter(todo)
    state: dict[str, Any] = {"consecutive_errors": 0, "abort": None}

    async def worker() -> None:
        for plan, sample, repeat in it:
            if state["abort"]:
                return
            bench: Benchmark = plan.benchmark
            seed = bench.item_seed(sample.id, repeat)
            try:
                prompt = bench.prompt(sample, repeat)
                request = Request(prompt.messages, plan.params, seed=seed, key=(plan.name, sample.id, repeat))
                overflow = await context_overflow(engine, prompt.messages, plan.params) \
                    if bench.spec.options.get("check_context") else None
                response = overflow or await bench.solve(sample, prompt, request, roles)
            except EngineError as e:
                state["abort"] = e
                return
            gen = generation_record(plan.name, sample, repeat, seed, prompt, plan.params, response)
            store.append_generation(gen)
            if progress:
                progress.advance(plan.name)
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
