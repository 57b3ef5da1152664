"""Does the generation order keep a vLLM server saturated to the last request? A discrete-event model.

    .venv/bin/python bench/saturation.py [--k 256] [--concurrency 256] [--seed 0] [--limit N] [--json out.json]
    .venv/bin/python bench/saturation.py --synthetic          # a small made-up mix, no data needed (the test)

Compares two orders of the same work items (same prompts, same drawn output lengths):
  fifo      the old order: plan order, benchmark by benchmark, repeat-major
            ([(p, s, r) for p in plans for r in range(p.repeats) for s in p.samples])
  schedule  harness.generate.schedule: longest expected first across benchmarks, a prompt's repeats adjacent,
            prompts sharing a prefix (AA-LCR's document sets) adjacent
and reports, for each: makespan, its lower bound, makespan / lower bound, GPU-busy fraction, prefix-cache hit rate.

Why virtual time and not a live server on 127.0.0.1: the quantity asked about is the engine's makespan on a
common-13 run, hours of GPU time (87k requests, ~10^8 output tokens). A real-time server would need those hours, and a
time-scaled one would measure the 2-core client's own scheduling jitter and the event loop rather than the order;
both also make the result depend on the machine's load. The harness client is not what is measured here (that is
bench/throughput.py, which does run a real server process): its only effect on the engine is the ORDER in which it
submits requests and how many it keeps in flight, both of which this model takes exactly (the harness's workers pull
items from the ordered list, one new request as each finishes). So the model is a deterministic event simulation:
seconds of CPU for hours of simulated GPU, and the same numbers on any machine for a given --seed.

The model (every number is an assumption, not a measurement of vLLM; change them with the options):
  - K sequences run at once (vLLM --max-num-seqs, --k); the client keeps C (--concurrency, C >= K) requests in
    flight and the server queues the rest in arrival (= submission) order.
  - Decode: every running sequence advances at a / (1 + b * batch) tokens/s (a = 70, b = 0.01: 69 tok/s alone,
    19 tok/s per sequence and ~5,000 tok/s in all at a batch of 256 -- about Qwen3-235B-A22B on one 8-GPU node;
    issue 15 quotes 20 tok/s in a full batch).
  - Prefill: the uncached prompt tokens at P = 15,000 tokens/s, one request at a time, decode paused meanwhile
    (prefill first, as vLLM's scheduler does; chunked prefill interleaves it but costs the same GPU time).
  - Prefix cache: LRU over prompt prefixes, bounded in tokens (--cache-tokens, 2,000,000: about the free KV of
    8 x H200 at 0.92 memory utilisation, ~190 KB per token for this model). A prompt is two blocks: the shared
    prefix (AA-LCR's documents, from Benchmark.prefix_key and the prompt's context_chars) and the rest; the rest hits
    only when its prefix hits (vLLM hashes blocks in a chain). Running sequences' own KV is not modelled.
  - Prompt tokens: characters / 4 of the real prompts (no tokenizer: good enough for the relative cost of prefill).
  - Output tokens: per benchmark a log-normal of the median and sigma below, capped at the plan's max_tokens (the
    Qwen3 card budget); sigma is split into a per-sample part (0.6 sigma: hard questions are long on every repeat)
    and a per-repeat part (0.8 sigma). These medians are GUESSES for a long-reasoning model, not measured lengths.
  - tau2_telecom is one request per item (a conversation is really ~20 shorter turns): it is a small share.
Lower bound (valid for any order): max(total work / capacity, longest single request), where total work = prefill of
every distinct prompt once (a perfect cache) / P + all output tokens / (K * a / (1 + b K)), and the longest request
is its output alone at batch 1. GPU busy = fraction of the peak throughput (full batch, or prefilling) used over the
makespan; hit rate = prompt tokens served from the cache / all prompt tokens; tail = makespan minus the time the
last request was admitted (the drain, when the batch can only shrink).
"""

from __future__ import annotations

import argparse
import heapq
import json
import math
import os
import random
import sys
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")  # missing data is skipped, not fetched (and not retried for a minute)
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")

from harness.benchmarks.base import Prompt, Sample, user  # noqa: E402
from harness.generate import schedule  # noqa: E402

# (median output tokens, sigma of log) per benchmark: ASSUMED for a long-reasoning model (Qwen3-235B-A22B-Thinking)
LENGTHS: dict[str, tuple[float, float]] = {
    "mmlu_pro": (1500, 0.8), "kmmlu_pro": (1800, 0.8), "gpqa_diamond": (6000, 0.7), "hle": (10000, 0.8),
    "aime2025": (14000, 0.6), "hrm8k": (3000, 0.9), "livecodebench_v6": (12000, 0.7), "tau2_telecom": (3000, 0.8),
    "ifbench": (2500, 0.8), "ifeval": (1200, 0.8), "aa_lcr": (3000, 0.7), "click": (1000, 0.8), "kobalt": (2500, 0.8),
}
DEFAULT_LENGTH = (2000, 0.8)


@dataclass
class Model:
    k: int = 256
    concurrency: int = 256
    a: float = 70.0  # tokens/s of one sequence alone (scaled by 1 / (1 + b * batch))
    b: float = 0.01
    prefill_tps: float = 15000.0
    cache_tokens: int = 2_000_000

    def speed(self, batch: int) -> float:
        return self.a / (1 + self.b * batch)


@dataclass
class Job:
    bench: str
    sid: str
    repeat: int
    prefix: str | None  # shared-prefix key (AA-LCR's documents) or None
    prefix_tokens: int
    rest_tokens: int  # the prompt after the prefix
    out_tokens: int


def prompt_tokens(prompt: Prompt) -> int:
    chars = 0
    for m in prompt.messages:
        c = m.get("content")
        chars += len(c) if isinstance(c, str) else len(json.dumps(c))
    return max(1, chars // 4)


def workload(plans: list, seed: int) -> dict[tuple[str, str, int], Job]:
    """One Job per (benchmark, sample, repeat), output lengths drawn once (the same for every order)."""
    rng = random.Random(seed)
    jobs = {}
    for p in plans:
        median, sigma = LENGTHS.get(p.name, DEFAULT_LENGTH)
        cap = int(p.params.max_tokens or 32768)
        for s in p.samples:
            pr = p.benchmark.prompt(s, 0)
            total = prompt_tokens(pr)
            key = p.benchmark.prefix_key(s)
            pre = min(total, int((pr.meta or {}).get("context_chars", 0)) // 4) if key is not None else 0
            mu = math.log(median) + rng.gauss(0, 0.6 * sigma)
            for r in range(p.repeats):
                out = min(cap, max(1, int(math.exp(mu + rng.gauss(0, 0.8 * sigma)))))
                jobs[(p.name, s.id, r)] = Job(p.name, s.id, r, key, pre, total - pre, out)
    return jobs


class LRU:
    def __init__(self, capacity: int):
        self.capacity, self.size, self.entries = capacity, 0, OrderedDict()

    def hit(self, key: Any) -> bool:
        if key in self.entries:
            self.entries.move_to_end(key)
            return True
        return False

    def put(self, key: Any, tokens: int) -> None:
        if key in self.entries or tokens > self.capacity:
            return
        self.entries[key] = tokens
        self.size += tokens
        while self.size > self.capacity:
            self.size -= self.entries.popitem(last=False)[1]


def simulate(order: list[Job], m: Model) -> dict[str, float]:
    """Run `order` through the modelled server; virtual seconds."""
    keff = min(m.k, m.concurrency)
    peak = keff * m.speed(keff)  # output tokens/s at a full batch
    cache = LRU(m.cache_tokens)
    t = 0.0
    v = 0.0  # tokens each running sequence has decoded since t = 0 (all advance at the same rate)
    decoding: list[float] = []  # heap of the v at which each running sequence finishes
    waiting: deque[Job] = deque()  # at the server, not admitted
    prefill: deque[Job] = deque()  # admitted, prompt not yet computed
    nxt, in_flight, admitted = 0, 0, 0
    busy = 0.0  # integral of (throughput used / peak) dt
    prompt_total = prompt_hit = 0
    last_admit = 0.0
    while True:
        while in_flight < m.concurrency and nxt < len(order):
            waiting.append(order[nxt])
            nxt += 1
            in_flight += 1
        while admitted < m.k and waiting:
            prefill.append(waiting.popleft())
            admitted += 1
            last_admit = t
        if prefill:  # prefill first, decode paused
            job = prefill.popleft()
            hit = 0
            pkey = ("prefix", job.bench, job.prefix) if job.prefix is not None else None
            rkey = ("prompt", job.bench, job.sid)
            if pkey is None or cache.hit(pkey):
                hit += job.prefix_tokens
                if cache.hit(rkey):
                    hit += job.rest_tokens
            total = job.prefix_tokens + job.rest_tokens
            dt = (total - hit) / m.prefill_tps
            t += dt
            busy += dt
            prompt_total += total
            prompt_hit += hit
            if pkey is not None:
                cache.put(pkey, job.prefix_tokens)
            cache.put(rkey, job.rest_tokens)
            heapq.heappush(decoding, v + job.out_tokens)
            continue
        if not decoding:
            break
        n = len(decoding)
        rate = m.speed(n)
        dt = (decoding[0] - v) / rate
        t += dt
        busy += dt * n * rate / peak
        v = decoding[0]
        while decoding and decoding[0] <= v + 1e-9:
            heapq.heappop(decoding)
            in_flight -= 1
            admitted -= 1
    assert nxt == len(order) and in_flight == 0
    return {"makespan_s": t, "gpu_busy": busy / t if t else 1.0,
            "cache_hit": prompt_hit / prompt_total if prompt_total else 0.0, "tail_s": t - last_admit}


def lower_bound(jobs: list[Job], m: Model) -> float:
    keff = min(m.k, m.concurrency)
    prompts: dict[Any, int] = {}
    for j in jobs:  # each distinct prompt prefilled once
        if j.prefix is not None:
            prompts[("prefix", j.bench, j.prefix)] = j.prefix_tokens
        prompts[("prompt", j.bench, j.sid)] = j.rest_tokens
    work = sum(prompts.values()) / m.prefill_tps + sum(j.out_tokens for j in jobs) / (keff * m.speed(keff))
    longest = max(j.out_tokens for j in jobs) / m.speed(1)
    return max(work, longest)


def fifo(plans: list) -> list:
    return [(p, s, r) for p in plans for r in range(p.repeats) for s in p.samples]


def compare(plans: list, m: Model, seed: int) -> dict[str, Any]:
    jobs = workload(plans, seed)
    lb = lower_bound(list(jobs.values()), m)
    rows = {}
    for name, items in (("fifo", fifo(plans)), ("schedule", schedule(fifo(plans)))):
        order = [jobs[(p.name, s.id, r)] for p, s, r in items]
        res = simulate(order, m)
        rows[name] = {"makespan_s": round(res["makespan_s"], 1), "lower_bound_s": round(lb, 1),
                      "ratio": round(res["makespan_s"] / lb, 4), "gpu_busy": round(res["gpu_busy"], 4),
                      "cache_hit": round(res["cache_hit"], 4), "tail_s": round(res["tail_s"], 1)}
    return {"rows": rows, "items": len(jobs), "output_tokens": sum(j.out_tokens for j in jobs.values()),
            "prompt_tokens": sum(j.prefix_tokens + j.rest_tokens for j in jobs.values()),
            "benchmarks": {p.name: {"samples": len(p.samples), "repeats": p.repeats,
                                    "max_tokens": p.params.max_tokens,
                                    "median_sigma": list(LENGTHS.get(p.name, DEFAULT_LENGTH))} for p in plans}}


# ------------------------------------------------------------------------------------------------------ the plans


def real_plans(limit: int | None, repeats: int) -> tuple[list, list[str]]:
    """common13 as `harness run` plans it for Qwen3-235B-A22B-Thinking-2507 (card budgets), benchmarks whose data is
    not on this machine skipped."""
    from harness import config as cfg
    from harness import runner
    from harness.errors import HarnessError

    spec = cfg.load_model_spec(ROOT / "tasks" / "models" / "qwen3-235b-a22b-thinking-2507.yaml")
    model = spec.model_copy(update={"engine": "replay", "responses": "x"})
    plans, skipped = [], []
    for e in cfg.load_suite("common13").benchmarks:
        try:
            plans += runner.plan_benchmarks([e], model, repeats=repeats, limit=limit, roles=("judge", "user_sim"))
        except HarnessError:
            skipped.append(e.name)
    return plans, skipped


class _Synthetic:
    def __init__(self, name: str, chars: int, docs: int | None):
        self.name, self.chars, self.docs = name, chars, docs

    def prompt(self, sample: Sample, repeat: int) -> Prompt:
        if self.docs is None:
            return Prompt(user("q" * self.chars), target="")
        return Prompt(user("d" * self.chars + "q" * 400), target="", meta={"context_chars": self.chars})

    def prefix_key(self, sample: Sample) -> str | None:
        return None if self.docs is None else f"doc{int(sample.id) % self.docs}"


def synthetic_plans(repeats: int = 5) -> list:
    """A small common-13-shaped mix (no data needed): many short items, a few long reasoning ones, AA-LCR-like
    questions over shared 100k-token documents."""
    def plan(name, n, max_tokens, chars, docs=None):
        samples = [Sample(str(i), {}) for i in range(n)]
        if docs is not None:  # documents' questions interleaved in the data, as they may be
            samples.sort(key=lambda s: int(s.id) % docs)
        return SimpleNamespace(name=name, benchmark=_Synthetic(name, chars, docs), samples=samples, repeats=repeats,
                               params=SimpleNamespace(max_tokens=max_tokens))
    return [plan("mmlu_pro", 600, 32768, 3600), plan("gpqa_diamond", 40, 32768, 3500), plan("aime2025", 12, 81920, 2400),
            plan("aa_lcr", 20, 16384, 400_000, docs=6), plan("hrm8k", 60, 81920, 1200), plan("kobalt", 80, 32768, 2600)]


def table(result: dict[str, Any]) -> str:
    head = f"{'order':<9} {'makespan':>10} {'lower bd':>10} {'ratio':>7} {'GPU busy':>9} {'cache hit':>10} {'tail':>8}"
    lines = [head]
    for name, r in result["rows"].items():
        lines.append(f"{name:<9} {r['makespan_s'] / 3600:>9.2f}h {r['lower_bound_s'] / 3600:>9.2f}h "
                     f"{r['ratio']:>6.3f}x {r['gpu_busy']:>8.1%} {r['cache_hit']:>9.1%} {r['tail_s']:>7.0f}s")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--k", type=int, default=256, help="sequences the server runs at once (vLLM --max-num-seqs)")
    ap.add_argument("--concurrency", type=int, default=256, help="requests the client keeps in flight (>= --k)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--limit", type=int, default=None, help="first N samples of each benchmark")
    ap.add_argument("--cache-tokens", type=int, default=Model.cache_tokens)
    ap.add_argument("--prefill-tps", type=float, default=Model.prefill_tps)
    ap.add_argument("--synthetic", action="store_true", help="a small made-up mix instead of common13's data")
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.concurrency < args.k:
        ap.error("--concurrency must be at least --k (the client keeps every server slot busy)")
    m = Model(k=args.k, concurrency=args.concurrency, cache_tokens=args.cache_tokens, prefill_tps=args.prefill_tps)
    t0 = time.perf_counter()
    plans, skipped = (synthetic_plans(args.repeats), []) if args.synthetic else real_plans(args.limit, args.repeats)
    t1 = time.perf_counter()
    result = compare(plans, m, args.seed)
    result.update(skipped_no_data=skipped, seed=args.seed, model=vars(m), plan_s=round(t1 - t0, 1),
                  simulate_s=round(time.perf_counter() - t1, 1))
    print(f"{result['items']:,} items ({', '.join(result['benchmarks'])}; no data: {', '.join(skipped) or 'none'}), "
          f"{result['output_tokens']:,} output and {result['prompt_tokens']:,} prompt tokens; K={m.k}, "
          f"C={m.concurrency}, seed {args.seed}; simulated in {result['simulate_s']} s")
    print(table(result))
    if args.json:
        args.json.write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()
