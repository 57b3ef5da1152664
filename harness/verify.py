"""Reproducibility audit, as TTA re-checks the teams' numbers: `harness verify RUN_DIR`.

1. Pick a seeded random sample of the run's finished items (`--n` per benchmark, or `--fraction`).
2. Re-run exactly those items (same sample, repeat, per-item seed and generation settings) with the engine settings
   in the manifest, or the engine options given, into a run directory of its own (re-running resumes it).
3. Compare item by item and in aggregate. Agreement = share of items with the same score. Greedy decoding
   (temperature 0) must agree on every item (`--min-agreement`, default 1.0). With sampling, items may differ by
   chance; the re-run passes when the 95% CI of the mean paired difference (new − old, Student's t, the item as
   the unit) contains 0; for 0/1 scores McNemar's exact p-value is reported beside it.
4. Audit the records themselves: summary.json is recomputed from the stored records (an edited or stale summary
   fails), and every stored generation is scored again and compared with its stored verdict (judged benchmarks
   only with --judge).
5. Flag manifest mismatches: errors (model, task version or YAML hash, data checksum or revision, sample list,
   per-item seed or prompt hash) make the audit fail; warnings (engine, parallelism, package versions, generation
   settings that differ from the task's defaults) are reported only.
"""

from __future__ import annotations

import math
import random
from collections import defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from statistics import mean, stdev
from typing import Any

from harness import config as cfg
from harness.errors import ConfigError, DataError
from harness.scoring.stats import mcnemar, t975
from harness.store import atomic_write_json, load_records, read_json, run_items

# model spec fields that change what is measured (error) or only how it is served (warning)
MODEL_ERRORS = ("model", "gguf_file", "reasoning_parser")
MODEL_WARNINGS = ("engine", "tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "max_model_len",
                  "tool_call_parser", "dtype", "extra_args")
PACKAGES = ("harness", "vllm", "transformers", "torch", "math-verify")


@dataclass
class Mismatch:
    severity: str  # error | warning
    what: str
    was: Any = None
    now: Any = None
    benchmark: str | None = None

    def __str__(self) -> str:
        where = f"{self.benchmark}: " if self.benchmark else ""
        return f"[{self.severity}] {where}{self.what}: was {self.was!r}, now {self.now!r}"


def pick_items(records: dict, n: int | None, fraction: float | None, seed: int,
               benchmarks: list[str] | None = None) -> dict[str, list[tuple[str, int]]]:
    """Per benchmark, a seeded random sample of finished (scored) items as (sample_id, repeat)."""
    if (n is None) == (fraction is None):
        raise ConfigError("give --n ITEMS (per benchmark) or --fraction F, not both")
    if fraction is not None and not 0 < fraction <= 1:
        raise ConfigError(f"--fraction must be in (0, 1], got {fraction}")
    if n is not None and n < 1:
        raise ConfigError(f"--n must be at least 1, got {n}")
    by_bench: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for (b, sid, rep), rec in records.items():
        if rec.get("error") is None and rec.get("score") is not None:
            by_bench[b].append((sid, rep))
    if benchmarks:
        unknown = set(benchmarks) - set(by_bench)
        if unknown:
            raise ConfigError(f"--benchmarks {', '.join(sorted(unknown))}: not in this run (it has "
                              f"{', '.join(sorted(by_bench))})")
        by_bench = defaultdict(list, {b: v for b, v in by_bench.items() if b in benchmarks})
    rng = random.Random(seed)
    out = {}
    for b in sorted(by_bench):
        keys = sorted(by_bench[b])
        k = min(len(keys), n if n is not None else max(1, round(fraction * len(keys))))
        out[b] = sorted(rng.sample(keys, k), key=lambda x: (x[1], x[0]))
    if not out:
        raise DataError("the run has no finished (scored) items to re-run")
    return out


def compare_scores(pairs: list[tuple[float, float]], greedy: bool, min_agreement: float) -> dict[str, Any]:
    """Agreement and the paired difference of (old, new) item scores (0..1)."""
    n = len(pairs)
    if n == 0:
        return {"n": 0, "agree": 0, "agreement": 0.0, "old_score": None, "new_score": None, "difference": None,
                "difference_ci95": None, "greedy": greedy, "pass": False, "reason": "nothing re-run"}
    agree = sum(1 for a, b in pairs if abs(a - b) < 1e-9)
    d = [b - a for a, b in pairs]
    diff = mean(d)
    se = stdev(d) / math.sqrt(n) if n > 1 else None
    ci = [diff - t975(n - 1) * se, diff + t975(n - 1) * se] if se is not None else None
    out: dict[str, Any] = {
        "n": n, "agree": agree, "agreement": round(agree / n, 4),
        "old_score": round(100 * mean(a for a, _ in pairs), 3), "new_score": round(100 * mean(b for _, b in pairs), 3),
        "difference": round(100 * diff, 3),
        "difference_ci95": [round(100 * c, 3) for c in ci] if ci else None,
        "greedy": greedy,
    }
    if all(x in (0.0, 1.0) for p in pairs for x in p):
        lost = sum(1 for a, b in pairs if a == 1 and b == 0)
        gained = sum(1 for a, b in pairs if a == 0 and b == 1)
        out.update(lost=lost, gained=gained, mcnemar_p=round(mcnemar(gained, lost)["p_value"], 4))
    if greedy:
        ok = agree / n >= min_agreement
        out["reason"] = (f"greedy decoding: {agree}/{n} items agree (need {min_agreement:.0%})")
    else:
        ok = ci[0] <= 0 <= ci[1] if ci else agree == n
        out["reason"] = (f"sampling: mean difference {100 * diff:+.2f} points, 95% CI "
                         + (f"[{100 * ci[0]:+.2f}, {100 * ci[1]:+.2f}]" if ci else "n/a")
                         + (" contains 0" if ok else " excludes 0"))
    out["pass"] = ok
    return out


def model_mismatches(old: dict, spec: cfg.ModelSpec) -> list[Mismatch]:
    now = spec.model_dump(mode="json")
    out = [Mismatch("error", f"model.{k}", old.get(k), now.get(k)) for k in MODEL_ERRORS if old.get(k) != now.get(k)]
    out += [Mismatch("warning", f"model.{k}", old.get(k), now.get(k)) for k in MODEL_WARNINGS
            if old.get(k) != now.get(k)]
    return out


def benchmark_mismatches(name: str, old: dict, now: dict, default_generation: dict) -> list[Mismatch]:
    out = []
    for k in ("version", "task_sha256", "seed", "sample_ids_sha256"):
        if old.get(k) != now.get(k):
            what = {"sample_ids_sha256": "sample list (ids or order)", "task_sha256": "task YAML hash"}.get(k, k)
            out.append(Mismatch("error", what, old.get(k), now.get(k), name))
    od, nd = old.get("data") or {}, now.get("data") or {}
    for k in ("sha256", "id", "config", "split", "revision"):
        if od.get(k) != nd.get(k) and (od.get(k) is not None or nd.get(k) is not None):
            out.append(Mismatch("error", f"data {'checksum' if k == 'sha256' else k}", od.get(k), nd.get(k), name))
    og = old.get("generation") or {}
    for k in sorted(set(og) | set(default_generation)):
        if og.get(k) != default_generation.get(k):
            out.append(Mismatch("warning", f"generation.{k} differs from the task + model defaults", og.get(k),
                                default_generation.get(k), name))
    return out


def environment_mismatches(old: dict) -> list[Mismatch]:
    from harness import provenance

    out = []
    now_pk, old_pk = provenance.package_versions(), old.get("packages") or {}
    for p in PACKAGES:
        if old_pk.get(p) != now_pk.get(p) and (old_pk.get(p) or now_pk.get(p)):
            out.append(Mismatch("warning", f"package {p}", old_pk.get(p), now_pk.get(p)))
    old_git = ((old.get("harness") or {}).get("git") or {}).get("commit")
    now_git = provenance.git_revision().get("commit")
    if old_git and now_git and old_git != now_git:
        out.append(Mismatch("warning", "harness git commit", old_git, now_git))
    return out


_SUMMARY_FIELDS = ("score", "n", "items", "items_expected", "stderr", "truncation_rate", "unparsed_rate", "error_rate",
                   "valid")


def summary_mismatches(run_dir: Path, manifest: dict) -> list[Mismatch]:
    """summary.json against the summary recomputed from the stored records."""
    from harness.summary import summarize_run

    path = run_dir / "summary.json"
    if not path.exists():
        return [Mismatch("error", "summary.json is missing", None, None)]
    stored = read_json(path)
    fresh = summarize_run(manifest, load_records(run_dir, lean=True))
    out = []
    for name, b in fresh["benchmarks"].items():
        s = (stored.get("benchmarks") or {}).get(name)
        if s is None:
            out.append(Mismatch("error", "summary.json has no entry for a benchmark with records", None, b["score"],
                                name))
            continue
        for k in _SUMMARY_FIELDS:
            if s.get(k) != b.get(k) and not (isinstance(s.get(k), float) and isinstance(b.get(k), float)
                                             and abs(s[k] - b[k]) < 1e-6):
                out.append(Mismatch("error", f"summary.json {k} does not match the records", s.get(k), b.get(k),
                                    name))
    return out


def rerun_spec(old_model: dict, overrides: dict[str, Any]) -> cfg.ModelSpec:
    known = {k: v for k, v in old_model.items() if k in cfg.ModelSpec.model_fields}
    known.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return cfg.ModelSpec(**known)
    except Exception as e:  # noqa: BLE001 - pydantic's message names the field
        raise ConfigError(f"cannot rebuild the model spec from the manifest with the options given: {e}") from None


def verify_run(run_dir: Path, out: Path | None = None, n: int | None = None, fraction: float | None = None,
               seed: int = 0, overrides: dict[str, Any] | None = None, data_dirs: list[Path] | None = None,
               data: dict[str, Path] | None = None, roles: dict[str, cfg.ModelSpec] | None = None,
               benchmarks: list[str] | None = None, min_agreement: float = 1.0, progress: bool = False) -> dict:
    """Re-run a sample of `run_dir`'s items and compare; writes <out>/verify.json and returns the report."""
    from harness import runner
    from harness.engine import make_engine
    from harness.engine.batch import concurrency_for
    from harness.launch import progress as launch_progress
    from harness.rescore import rescore_check
    from harness.shard import select_shard

    run_dir = Path(run_dir)
    old = read_json(run_dir / "manifest.json")
    lm = [b for b, m in (old.get("benchmarks") or {}).items() if m.get("module") in ("lmeval", "lmms")]
    # lm-eval's runs are not re-run here
    old_recs = {k: v for k, v in run_items(run_dir, lean=True).items() if k[0] not in lm}
    chosen = pick_items(old_recs, n if n is not None or fraction is not None else 50, fraction, seed, benchmarks)
    spec = rerun_spec(old.get("model", {}), overrides or {})
    out = Path(out) if out else run_dir.with_name(f"{run_dir.name}.verify-s{seed}")
    if out.resolve() == run_dir.resolve():
        raise ConfigError("--out must not be the run directory itself")

    mismatches = model_mismatches(old.get("model", {}), spec) + environment_mismatches(old)
    plans = []
    for name, keys in chosen.items():
        ob = old["benchmarks"].get(name)
        if ob is None:
            raise DataError(f"{name} has records but no manifest entry in {run_dir}/manifest.json")
        shard = ob.get("shard")
        limit = shard["of_samples"] if shard else ob.get("samples")
        (plan,) = runner.plan_benchmarks(
            [cfg.SuiteEntry(name=name)], spec, repeats=ob.get("repeats"), limit=limit,
            generation=cfg.GenerationParams(**ob["generation"]), data_overrides={name: data[name]}
            if data and name in data else None, data_dirs=data_dirs, roles=tuple(roles or ()))
        if shard:
            plan.samples = select_shard(plan.samples, shard["index"], shard["count"])
        now = runner.bench_manifest(plan)
        default_gen = plan.benchmark.spec.generation.merged(spec.generation).model_dump(mode="json")
        mismatches += benchmark_mismatches(name, ob, now, default_gen)
        known = {s.id for s in plan.samples}
        gone = [sid for sid, _ in keys if sid not in known]
        if gone:
            mismatches.append(Mismatch("error", f"{len(gone)} sampled items are no longer in the data",
                                       gone[:5], None, name))
        plan.keys = [(sid, rep) for sid, rep in keys if sid in known]
        if plan.keys:
            plans.append(plan)
    if not plans:
        raise DataError("none of the sampled items exist in the data now; see the data checksum in the manifest")

    role_engines = {r: make_engine(s, log_name=f"{r}-server.log") for r, s in (roles or {}).items()}
    mismatches += summary_mismatches(run_dir, old)
    rescored = rescore_check(run_dir, data_dirs, data, {r: e for r, e in role_engines.items() if r == "judge"})
    for name, r in rescored.items():
        if r.get("differ"):
            mismatches.append(Mismatch("error", f"{len(r['differ'])} of {r['checked']} stored verdicts differ from "
                                       "re-scoring the stored answers", r["stored_scorer"], r["scorer_now"], name))
    opts = runner.RunOptions(out=out, run_id=out.name, workers=concurrency_for(spec)[0], roles=role_engines,
                             progress=launch_progress(progress))
    runner.run(plans, spec, make_engine(spec), opts)
    new_recs = run_items(out, lean=True)

    per_bench, all_pairs, greedy_all = {}, [], True
    for plan in plans:
        name = plan.name
        greedy = (plan.params.temperature == 0)
        greedy_all &= greedy
        pairs, seeds_differ, prompts_differ, errors = [], 0, 0, 0
        for sid, rep in plan.keys or []:
            o, nr = old_recs[(name, sid, rep)], new_recs.get((name, sid, rep))
            if nr is None or nr.get("error") is not None or nr.get("score") is None:
                errors += 1
                continue
            seeds_differ += o.get("seed") != nr.get("seed")
            prompts_differ += bool(o.get("prompt_sha256")) and o.get("prompt_sha256") != nr.get("prompt_sha256")
            pairs.append((float(o["score"]), float(nr["score"])))
        if seeds_differ:
            mismatches.append(Mismatch("error", "per-item seeds differ", f"{seeds_differ} items", None, name))
        if prompts_differ:
            mismatches.append(Mismatch("error", "prompts differ (prompt_sha256)", f"{prompts_differ} items", None,
                                       name))
        result = compare_scores(pairs, greedy, min_agreement)
        result["rerun_errors"] = errors
        if errors:
            result["pass"] = False
            result["reason"] += f"; {errors} re-run items failed (engine errors)"
        per_bench[name] = result
        all_pairs += pairs
    overall = compare_scores(all_pairs, greedy_all, min_agreement)
    errors_found = [m for m in mismatches if m.severity == "error"]
    report = {
        "run_dir": str(run_dir), "rerun_dir": str(out), "seed": seed,
        "items": {p.name: len(p.keys or []) for p in plans},
        "benchmarks": per_bench,
        "overall": overall,
        "rescored": rescored,
        "mismatches": [asdict(m) for m in mismatches],
        "pass": bool(all(r["pass"] for r in per_bench.values()) and not errors_found),
    }
    atomic_write_json(out / "verify.json", report)
    return report
