"""The one function from records to a summary entry, used by run, score, merge, verify, report and the lm-eval bridge.

Score = mean over samples of each sample's mean over its repeats (avg@k), × 100. The standard error treats the
sample as the unit (repeats of one question are not independent draws of the benchmark): stderr = sd of the
per-sample means / √n; the 95% CI uses Student's t with n − 1 degrees of freedom, clipped to 0–100. Items whose
generation or scoring failed are not scored: they count in `error_rate` (engine errors are retried on resume, scorer
errors re-scored). Items with a generation but no verdict of the current scorer yet are not counted as finished.

lm-eval entries: the score and stderr are lm-eval's own aggregate (its groups are not always a mean over documents),
kept in the manifest; their truncation and error rates are unknown (`null`, with the reason in `unknown_rates`).
"""

from __future__ import annotations

import math
from collections import defaultdict
from statistics import mean, stdev
from typing import Any, Callable

from harness.config import Thresholds
from harness.records import SCHEMA_VERSION, BenchmarkSummary, Key, Summary, now
from harness.scoring.stats import t975
from harness.store import RunRecords

Metrics = Callable[[list[dict]], "dict[str, Any] | None"]


def summarize_items(items: list[dict], expected: int, repeats: int, thresholds: Thresholds, *,
                    version: str | None = None, metric: str | None = None, scorer: str | None = None,
                    metrics: Metrics | None = None, reported: dict[str, Any] | None = None,
                    unknown_rates: dict[str, str] | None = None) -> dict[str, Any]:
    """`items`: item views (harness.records.item_view) of one benchmark, one per work item that has a generation;
    `expected`: samples × repeats planned; `reported`: an aggregate computed elsewhere (lm-eval) that replaces the
    mean over items: {"score", "stderr", "n"}."""
    unknown_rates = dict(unknown_rates or {})
    total = len(items)
    unscored = sum(1 for r in items if r.get("unscored"))
    decided = [r for r in items if not r.get("unscored")]
    scored = [r for r in decided if r.get("error") is None]
    errors = len(decided) - len(scored)
    unparsed = sum(1 for r in scored if r.get("extracted") is None)
    truncated = sum(1 for r in items if r.get("finish_reason") == "length")

    by_sample: dict[str, list[float]] = defaultdict(list)
    by_repeat: dict[int, list[float]] = defaultdict(list)
    by_cat: dict[str, list[float]] = defaultdict(list)
    for r in scored:
        v = float(r["score"])
        by_sample[str(r["sample_id"])].append(v)
        by_repeat[int(r["repeat"])].append(v)
        if r.get("category"):
            by_cat[r["category"]].append(v)
    per_sample = {sid: mean(v) for sid, v in by_sample.items()}
    n = len(per_sample)
    score = 100 * mean(per_sample.values()) if n else None
    se = 100 * stdev(per_sample.values()) / math.sqrt(n) if n > 1 else None
    if reported is not None:
        score, se, n = reported.get("score"), reported.get("stderr"), reported.get("n", n)
    ci = None
    if score is not None and se is not None and n > 1:
        h = t975(n - 1) * se
        ci = [max(0.0, score - h), min(100.0, score + h)]

    def rate(name: str, x: int, denom: int) -> float | None:
        if name in unknown_rates:
            return None
        return _r(x / denom, 4) if denom else 0.0

    out: dict[str, Any] = {
        "score": _r(score), "n": n, "repeats": repeats, "items": total, "items_expected": expected,
        "items_scored": len(decided), "stderr": _r(se), "ci95": [_r(c) for c in ci] if ci else None,
        "truncation_rate": rate("truncation_rate", truncated, total),
        "unparsed_rate": rate("unparsed_rate", unparsed, total),
        "error_rate": rate("error_rate", errors, total),
        "unknown_rates": unknown_rates or None,
        "repeat_scores": [_r(100 * mean(by_repeat[k])) for k in sorted(by_repeat)]
        if reported is None else ([_r(score)] if score is not None else []),
        "categories": {c: _r(100 * mean(v)) for c, v in sorted(by_cat.items())} or None,
        "tokens": _token_stats(scored),
        "version": version, "metric": metric, "scorer": scorer,
    }
    extra = metrics(decided) if metrics and decided else None
    if extra:
        out["metrics"] = extra
    reasons = []
    if decided and errors == len(decided):  # nothing to score at all: say why, from the first error
        reasons.append(_all_failed(decided))
    if total < expected:
        reasons.append(f"incomplete: {total} of {expected} items generated")
    if unscored:
        reasons.append(f"incomplete: {unscored} items not scored yet (run `harness score` on the run directory)")
    if n == 0 or score is None:
        reasons.append("no scored items")
    for name, limit in (("error_rate", thresholds.max_error_rate), ("unparsed_rate", thresholds.max_unparsed_rate),
                        ("truncation_rate", thresholds.max_truncation_rate)):
        if out[name] is not None and out[name] > limit:
            reasons.append(f"{name} {out[name]:.1%} > {limit:.1%}")
    out["valid"] = not reasons
    out["invalid_reason"] = "; ".join(reasons) or None
    return BenchmarkSummary.model_validate(out).model_dump(exclude_none=False)


def _all_failed(items: list[dict]) -> str:
    """One line for a benchmark whose every item failed: how many, the first error (its first line), and for an
    HTTP 404 the usual causes (a served-model name the server does not know, a base URL without /v1)."""
    first = next(r for r in items if r.get("error") is not None)
    msg = " ".join(str(first["error"]).split())
    msg = msg if len(msg) <= 300 else msg[:297] + "..."
    what = "request" if first.get("error_kind") in ("engine", "context") else "item"
    hint = ""
    if what == "request" and msg.startswith("HTTP 404"):
        hint = " (check --model / --served-model-name against the server's /v1/models, and that --base-url ends in /v1)"
    elif what == "request" and msg.startswith(("HTTP 401", "HTTP 403")):
        hint = " (check the API key: --api-key-env)"
    return f"every {what} failed ({len(items)} of {len(items)}); first error: {msg}{hint}"


def summarize_benchmark(name: str, bench_manifest: dict[str, Any], records: RunRecords, thresholds: Thresholds,
                        keys: list[Key] | None = None, metrics: Metrics | None = None) -> dict[str, Any]:
    """A summary entry from the manifest entry of `name` and the records. `keys`: the planned work items (default:
    every item with a generation); `metrics`: the benchmark's own metrics function (default: loaded from the
    benchmark's module, none for lm-eval entries)."""
    m = bench_manifest
    scorer = m.get("scorer")
    items = records.items(name, scorer, keys)
    expected = len(keys) if keys is not None else int(m.get("items") or (m.get("samples") or 0) * m.get("repeats", 1))
    lm = m.get("lm_eval") or {}
    reported = unknown = None
    if m.get("module") == "lmeval":
        reported = lm.get("reported")
        unknown = {"truncation_rate": "lm-eval does not report finish reasons",
                   "error_rate": "lm-eval stops on a failed request instead of recording it"}
    elif m.get("module") == "lmms":  # lmms-eval (harness/lmms): failed requests are recorded, finish reasons are not
        lm = m.get("lmms_eval") or {}
        reported = lm.get("reported")
        unknown = {"truncation_rate": "lmms-eval does not report finish reasons"}
    elif metrics is None:
        metrics = _metrics_of(name)
    entry = summarize_items(items, expected, int(m.get("repeats") or 1), thresholds, version=m.get("version"),
                            metric=m.get("metric"), scorer=scorer, metrics=metrics, reported=reported,
                            unknown_rates=unknown)
    if lm:
        entry["lmms_eval" if m.get("module") == "lmms" else "lm_eval"] = {
            "task": lm.get("task"), "metric": lm.get("metric"), "metrics": lm.get("metrics")}
    return entry


def _metrics_of(name: str) -> Metrics | None:
    from harness.benchmarks import load_benchmark
    from harness.errors import HarnessError

    try:
        return load_benchmark(name).metrics
    except HarnessError:
        return None  # a benchmark this version no longer has: its score still stands, without extra metrics


def summarize_run(manifest: dict[str, Any], records: RunRecords, thresholds: Thresholds | None = None,
                  keys: dict[str, list[Key]] | None = None, metrics: dict[str, Metrics] | None = None,
                  model: str | None = None) -> dict[str, Any]:
    """summary.json for a run directory: one entry per benchmark in the manifest."""
    th = thresholds or Thresholds(**(manifest.get("thresholds") or {}))
    benchmarks = {name: summarize_benchmark(name, m, records, th, (keys or {}).get(name), (metrics or {}).get(name))
                  for name, m in manifest.get("benchmarks", {}).items()}
    spec = manifest.get("model") or {}
    summary = {
        "schema_version": SCHEMA_VERSION, "run_id": manifest.get("run_id"),
        "model": model or spec.get("name") or spec.get("model") or "model", "engine": spec.get("engine"),
        "updated": now(),
        "complete": all(b["items"] >= b["items_expected"] and b["items_scored"] >= b["items"]
                        for b in benchmarks.values()),
        "benchmarks": benchmarks,
    }
    return Summary.model_validate(summary).model_dump(mode="json")


def load_summary(run_dir) -> dict[str, Any]:
    """A run directory's summary.json; for a run that stopped before writing one (killed, out of memory, a lost
    node), the summary computed from its manifest and records, with `complete` false where items are missing and
    `recomputed: true`. `harness summary`, `points` and `report` read runs through this, so a partial run has a
    scorecard (marked incomplete) instead of an error."""
    from pathlib import Path

    from harness.errors import DataError
    from harness.store import load_records, read_json

    d = Path(run_dir)
    if (d / "summary.json").exists() or not (d / "manifest.json").exists():
        return read_json(d / "summary.json")  # its own error when neither is there
    manifest = read_json(d / "manifest.json")
    if not manifest.get("benchmarks"):
        raise DataError(f"{d}: the run wrote no benchmark entries yet (nothing to summarize)")
    return {**summarize_run(manifest, load_records(d, lean=True)), "recomputed": True}


def _token_stats(records: list[dict]) -> dict | None:
    comp = [r["completion_tokens"] for r in records if r.get("completion_tokens") is not None]
    prompt = [r["prompt_tokens"] for r in records if r.get("prompt_tokens") is not None]
    lat = [r["latency_s"] for r in records if r.get("latency_s") is not None]
    if not (comp or prompt):
        return None
    return {
        "prompt_mean": _r(mean(prompt)) if prompt else None,
        "completion_mean": _r(mean(comp)) if comp else None,
        "completion_max": max(comp) if comp else None,
        "completion_total": sum(comp) if comp else None,
        "latency_mean_s": _r(mean(lat), 3) if lat else None,
    }


def _r(x, nd: int = 4):
    return None if x is None else round(float(x), nd)
