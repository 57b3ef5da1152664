"""Scoring saved responses without the model: `score-responses` and judge agreement.

Judged benchmarks get their judge as a role; its calls go through a cache file (by default beside the results) so
that scoring the same responses again with the same judge makes no judge calls and starts no judge server.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from harness import config as cfg
from harness import runner
from harness.engine import make_engine
from harness.engine.cache import CachedEngine
from harness.engine.replay import ReplayEngine
from harness.errors import ConfigError, DataError
from harness.store import run_items


def judge_engine(spec_text: str, cache: Path, role: str = "judge", api_key_env: str | None = None) -> CachedEngine:
    spec = cfg.parse_engine_spec(spec_text, role, api_key_env)
    return CachedEngine(make_engine(spec, log_name=f"{role}-server.log"), cache,
                        model_id=spec.served_model_name or spec.model)


def score_responses(benchmark: str, responses: Path, out: Path, *, data: Path | None = None,
                    data_dirs: list[Path] | None = None, name: str = "responses", judge: str | None = None,
                    judge_cache: Path | None = None, judge_api_key_env: str | None = None) -> dict:
    if benchmark.startswith(("lmeval:", "lmms:")):
        raise ConfigError(f"{benchmark}: lm-eval tasks are scored inside lm-eval (lmms-eval tasks inside lmms-eval), from their "
                          "own requests; "
                          "score-responses takes native benchmarks (see `harness list`)")
    spec = cfg.ModelSpec(engine="replay", model=str(responses), name=name, responses=str(responses))
    eng = ReplayEngine(responses)
    if judge_api_key_env and not judge:
        raise ConfigError("--judge-api-key-env goes with --judge")
    roles = {"judge": judge_engine(judge, judge_cache or out / "judge_cache.jsonl", api_key_env=judge_api_key_env)
             } if judge else {}
    plans = runner.plan_benchmarks([cfg.SuiteEntry(name=benchmark)], spec,
                                   data_overrides={benchmark: data} if data else None, data_dirs=data_dirs,
                                   roles=tuple(roles))
    plan = plans[0]
    keys = sorted(eng.keys(benchmark), key=lambda k: (k[1], k[0]))
    known = {s.id for s in plan.samples}
    unknown = [sid for sid, _ in keys if sid not in known]
    if unknown:
        raise DataError(f"{responses}: {len(unknown)} sample ids are not in {benchmark} "
                        f"(e.g. {', '.join(repr(u) for u in unknown[:5])}); ids must be upstream ids")
    if not keys:
        raise DataError(f"{responses} holds no responses for {benchmark}")
    plan.keys = keys
    plan.repeats = max(r for _, r in keys) + 1
    opts = runner.RunOptions(out=out, run_id=out.name, workers=64, roles=roles)
    return runner.run(plans, spec, eng, opts)


def cohen_kappa(a: list[int], b: list[int]) -> float | None:
    """Cohen's kappa for two raters' binary verdicts on the same items."""
    n = len(a)
    if n == 0:
        return None
    po = sum(x == y for x, y in zip(a, b)) / n
    pa, pb = sum(a) / n, sum(b) / n
    pe = pa * pb + (1 - pa) * (1 - pb)
    return 1.0 if pe == 1 else (po - pe) / (1 - pe)


def judge_agreement(benchmark: str, responses: Path, out: Path, judge_a: str, judge_b: str, *,
                    data: Path | None = None, data_dirs: list[Path] | None = None) -> dict[str, Any]:
    """Score the same responses with two judges and compare their verdicts item by item."""
    if judge_a == judge_b:
        raise ConfigError("judge-agreement needs two different judges")
    for sub, j in (("judge_a", judge_a), ("judge_b", judge_b)):
        score_responses(benchmark, responses, out / sub, data=data, data_dirs=data_dirs, judge=j)
    verdicts = []
    for sub in ("judge_a", "judge_b"):
        verdicts.append(run_items(out / sub))
    both, only_errors = [], 0
    for k, ra in verdicts[0].items():
        rb = verdicts[1].get(k)
        if rb is None or ra.get("score") is None or rb.get("score") is None:
            only_errors += 1
            continue
        both.append((int(ra["score"] >= 0.5), int(rb["score"] >= 0.5), k))
    a, b = [x for x, _, _ in both], [y for _, y, _ in both]
    n = len(both)
    agree = sum(x == y for x, y in zip(a, b))
    kappa = cohen_kappa(a, b)
    return {
        "benchmark": benchmark, "judge_a": judge_a, "judge_b": judge_b, "items": n,
        "not_compared": only_errors,
        "agreement": 100 * agree / n if n else None,
        "cohen_kappa": None if kappa is None or math.isnan(kappa) else kappa,
        "judge_a_accuracy": 100 * sum(a) / n if n else None,
        "judge_b_accuracy": 100 * sum(b) / n if n else None,
        "disagreements": [{"sample_id": k[1], "repeat": k[2], "judge_a": x, "judge_b": y}
                          for x, y, k in both if x != y],
    }
