"""Benchmark scores gathered from one or more run directories (shards, machines) into one scorecard.

A benchmark found in several directories is merged at the record level: the latest record per work item across all
directories, re-summarised, so that shards by sample range or by repeat combine into one score. Directories that
disagree on a benchmark's version, task hash or generation settings cannot be merged (their items are not the same
measurement).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.config import Thresholds
from harness.errors import ConfigError, DataError
from harness.store import RunRecords, current_scorer, load_records, read_json
from harness.summary import load_summary, summarize_benchmark

_SAME = ("version", "task_sha256", "generation")
_TEXT = ("response", "reasoning", "prompt_meta", "engine_extra", "request")


@dataclass
class BenchmarkResult:
    name: str
    summary: dict  # the summary.json entry (score, stderr, ci95, rates, valid, ...)
    run_dirs: list[str] = field(default_factory=list)
    samples: list[dict] = field(default_factory=list)  # latest record per item (for repeat spread plots)

    @property
    def score(self) -> float | None:
        return self.summary.get("score")

    @property
    def valid(self) -> bool:
        return bool(self.summary.get("valid"))


@dataclass
class Scorecard:
    model: str
    benchmarks: dict[str, BenchmarkResult]
    run_dirs: list[str]


def load_results(dirs: list[Path]) -> Scorecard:
    if not dirs:
        raise ConfigError("give at least one run directory (--results DIR)")
    by_bench: dict[str, list[tuple[Path, dict, dict]]] = {}
    models, thresholds = set(), None
    for d in dirs:
        d = Path(d)
        manifest = read_json(d / "manifest.json")
        summary = load_summary(d)  # summary.json, or computed from the records of a run that stopped early
        models.add(summary.get("model"))
        thresholds = thresholds or manifest.get("thresholds")
        for name in summary.get("benchmarks", {}):
            by_bench.setdefault(name, []).append((d, manifest["benchmarks"].get(name, {}), summary["benchmarks"][name]))
    if len(models) > 1:
        raise ConfigError(f"the run directories hold different models ({', '.join(sorted(map(str, models)))}); "
                          "a scorecard is for one model")
    th = Thresholds(**thresholds) if thresholds else Thresholds()
    out = {}
    loaded: dict[Path, RunRecords] = {}
    for name, parts in by_bench.items():
        ref = parts[0][1]
        for d, m, _ in parts[1:]:
            diff = [k for k in _SAME if m.get(k) != ref.get(k)]
            if diff:
                raise ConfigError(f"{name}: {parts[0][0]} and {d} differ in {', '.join(diff)}; they are not shards "
                                  "of one run and cannot be merged")
        merged = RunRecords()
        for d, m, _ in parts:
            recs = loaded.get(d) or loaded.setdefault(d, load_records(d, lean=True))
            scorer = current_scorer({"benchmarks": {name: m}}, recs, name)
            for k, g in recs.generations.items():
                if k[0] == name:
                    merged.add_generation(g)
            for (k, sc), v in recs.scores.items():
                if k[0] == name and sc == scorer:
                    merged.add_score(v)
        scorer = current_scorer({"benchmarks": {name: ref}}, merged, name) or \
            next((v.scorer for v in merged.scores.values()), None)
        # the items minus their texts: a scorecard needs scores, not responses (60k reasoning traces are GBs)
        items = [{k: v for k, v in r.items() if k not in _TEXT} for r in merged.items(name, scorer)]
        if len(parts) == 1:
            summary = parts[0][2]
        else:
            entry = {**ref, "scorer": scorer, "items": _merged_expected(parts)}
            entry["repeats"] = max(p[2].get("repeats", 1) for p in parts)
            summary = summarize_benchmark(name, entry, merged, th)
        out[name] = BenchmarkResult(name, summary, [str(p[0]) for p in parts], items)
    if not out:
        raise DataError(f"no benchmark results in {', '.join(map(str, dirs))}")
    return Scorecard(model=next(iter(models)) or "model", benchmarks=out, run_dirs=[str(d) for d in dirs])


def _merged_expected(parts: list[tuple[Path, dict, dict]]) -> int:
    """Shards over different samples add up; directories that planned the same samples (one run resumed on
    another machine) count once."""
    if len({m.get("sample_ids_sha256") for _, m, _ in parts}) == 1:
        return max(p[2].get("items_expected", 0) for p in parts)
    return sum(p[2].get("items_expected", 0) for p in parts)
