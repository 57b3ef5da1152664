"""How sure a points figure is: bootstrap CIs for each part and the total, and the probability of being ahead.

Each benchmark's score is a mean over its samples (each sample: the mean of its scored repeats), so its sampling
uncertainty comes from which questions were drawn. One bootstrap replicate resamples the samples of every benchmark
independently (with replacement, same count; a sample's repeats stay together), recomputes every benchmark score, and
puts them through the scheme's arithmetic exactly as `compute_points` did for the point estimate: the same benchmarks
(a missing or invalid one stays out), the same caps, the same weights. The 2.5th and 97.5th percentiles of the
replicates are the 95% CI of a part and of the total; the generator is seeded (`seed`, recorded), so a figure is
reproducible.

An NIA score taken from a run (`--nia RUN_DIR`) is resampled within each of its areas and weighted as the score
is. What has no item data is held fixed and named: a number given with `--input`/`--nia-score`, and published
target scores. lm-eval entries (their score is lm-eval's own aggregate) are drawn from a normal
distribution with lm-eval's standard error.

Against a published target (its numbers are fixed), the probability that our total is higher is the share of
replicates above the target's total over the same parts; against another team's run, the share of paired draws
(ours resampled, theirs resampled independently) in which ours is higher, ties counting half. Only parts that both
sides have and that come from benchmark scores are compared (a target_ratio part is ours relative to our target, so
it is compared with another team only when that team's file is given); the parts compared are named.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from typing import TYPE_CHECKING, Any

from harness.scoring.stats import bootstrap_means, percentile_ci

if TYPE_CHECKING:
    import numpy as np

    from harness.scoring.points import Scheme

RESAMPLES = 2_000
SEED = 20260101
LEVEL = 0.95


def per_sample_values(items: list[dict]) -> dict[str, float]:
    """sample id → its value (0..1): the mean of its scored repeats, in sample-id order; items with an error or no
    verdict left out."""
    by: dict[str, list[float]] = defaultdict(list)
    for r in items:
        if r.get("error") is None and r.get("score") is not None and not r.get("unscored"):
            by[str(r["sample_id"])].append(float(r["score"]))
    return {sid: sum(by[sid]) / len(by[sid]) for sid in sorted(by)}


def score_draws(values: dict[str, dict[str, float]], normal: dict[str, tuple[float, float]], resamples: int,
                seed: int, stream: str = "", paired: set[str] = frozenset()) -> "dict[str, np.ndarray]":
    """Replicates of each benchmark's score (0–100). `values`: benchmark → per-sample values by sample id
    (resampled); `normal`: benchmark → (score, stderr) drawn from a normal distribution (lm-eval aggregates). Each
    benchmark has its own stream of the seeded generator (by name), so adding a benchmark does not move the others'
    draws; `stream` names another run's streams, except for the benchmarks in `paired`, which draw the same sample
    indices as ours (the same samples in the same id order: a paired bootstrap)."""
    import numpy as np

    out = {}
    for name, by_id in values.items():
        v = list(by_id.values())
        rng = np.random.default_rng([seed, zlib.crc32(f"{'' if name in paired else stream}{name}".encode())])
        out[name] = 100 * bootstrap_means(v, resamples, rng)
    for name, (score, se) in normal.items():
        rng = np.random.default_rng([seed, zlib.crc32(f"{stream}{name}".encode())])
        out[name] = np.clip(rng.normal(score, se or 0.0, resamples), 0.0, 100.0)
    return out


def part_draws(scheme: "Scheme", result: dict[str, Any], draws: "dict[str, np.ndarray]", resamples: int,
               inputs: "dict[str, np.ndarray] | None" = None) -> "tuple[dict[str, np.ndarray], list[str]]":
    """Replicates of each part's points, following the point estimate in `result` (compute_points' output); and the
    notes on what is held fixed. `inputs`: replicates of a scheme input (the NIA score of a run), else it is held
    fixed."""
    import numpy as np

    out, fixed = {}, []
    for part in scheme.parts:
        r = result["parts"][part.name]
        if r.get("points") is None:
            continue
        if part.kind == "mean":
            names = list(r["inputs"])
            out[part.name] = np.mean([_draws_of(draws, b, r["inputs"][b], resamples) for b in names], axis=0) \
                * part.weight
        elif part.kind == "target_ratio":
            ratios = np.array([_draws_of(draws, b, v["ours"], resamples) / v["target"] for b, v in r["inputs"].items()])
            value = np.minimum(ratios, part.cap).mean(axis=0) if part.cap_on == "benchmark" else \
                np.minimum(ratios.mean(axis=0), part.cap)
            out[part.name] = value * part.points
        elif part.input in (inputs or {}):
            out[part.name] = inputs[part.input] * part.weight
        else:
            out[part.name] = np.full(resamples, float(r["points"]))
            fixed.append(f"{part.name}: {part.input} is a number given from outside (or computed elsewhere), held "
                         "fixed: its own uncertainty is not included")
    return out, fixed


def _draws_of(draws, name: str, point: float, resamples: int):
    import numpy as np

    d = draws.get(name)
    return d if d is not None else np.full(resamples, float(point))  # no item data: held at its value


def _summary(d) -> dict[str, Any]:
    import numpy as np

    return {"ci95": [round(x, 4) for x in percentile_ci(d, LEVEL)], "stderr": round(float(np.std(d, ddof=1)), 4)}


def comparable_parts(scheme: "Scheme", ours: dict, theirs: dict, kinds: tuple[str, ...]) -> list[str]:
    return [p.name for p in scheme.parts if p.kind in kinds and ours["parts"][p.name].get("points") is not None
            and theirs["parts"][p.name].get("points") is not None]


def points_uncertainty(scheme: "Scheme", result: dict[str, Any], values: dict[str, dict[str, float]],
                       normal: dict[str, tuple[float, float]] | None = None, resamples: int = RESAMPLES,
                       seed: int = SEED, stream: str = "", paired: set[str] = frozenset(),
                       inputs: "dict[str, np.ndarray] | None" = None) -> tuple[dict[str, Any], "dict[str, np.ndarray]"]:
    """The `uncertainty` entry of a points result (method, seed, CIs of every part and the total, notes), and the
    replicates of each part (for comparisons). `stream`, `paired`: as score_draws; `inputs`: as part_draws."""
    draws = score_draws(values, normal or {}, resamples, seed, stream, paired)
    parts, fixed = part_draws(scheme, result, draws, resamples, inputs)
    total = sum(parts.values()) if parts else None
    notes = fixed + [f"{b}: lm-eval's aggregate, drawn from a normal distribution with its stderr"
                     for b in (normal or {})]
    used = {b for p in result["parts"].values() for b in (p.get("inputs") or {})}
    notes += [f"{b}: no item data, held fixed at its score" for b in sorted(used) if b not in draws and
              b not in {p.input for p in scheme.parts if p.kind == "input"}]
    out = {
        "method": f"bootstrap: the samples of each benchmark resampled with replacement, {resamples:,} replicates, "
                  f"percentile {LEVEL:.0%} intervals",
        "resamples": resamples, "seed": seed, "level": LEVEL,
        "parts": {name: _summary(d) for name, d in parts.items()},
        "total": _summary(total) if total is not None else None,
        "notes": notes,
    }
    return out, parts


def probability_higher(ours: "dict[str, np.ndarray]", theirs: "dict[str, np.ndarray] | dict[str, float]",
                       parts: list[str]) -> float:
    """Share of replicates in which the sum of `parts` is higher for us (ties count half). `theirs`: replicates of
    another run, or fixed points (a published target)."""
    import numpy as np

    a = sum(ours[p] for p in parts)
    b = sum(theirs[p] for p in parts)
    return float(np.mean(a > b) + 0.5 * np.mean(a == b))


def area_draws(items: list[dict], weights: dict[str, float] | None, resamples: int = RESAMPLES,
               seed: int = SEED) -> "np.ndarray":
    """Replicates of a score that is a weighted mean of area (category) scores, as the NIA score
    (harness.benchmarks.nia.nia_score): each area's samples resampled within the area, the areas weighted alike."""
    import numpy as np

    by_area: dict[str, list[dict]] = defaultdict(list)
    for r in items:
        if r.get("category"):
            by_area[r["category"]].append(r)
    total, out = 0.0, np.zeros(resamples)
    for area in sorted(by_area):
        v = list(per_sample_values(by_area[area]).values())
        if not v:
            continue
        w = (weights or {}).get(area, 1.0)
        rng = np.random.default_rng([seed, zlib.crc32(f"area:{area}".encode())])
        out += w * 100 * bootstrap_means(v, resamples, rng)
        total += w
    return out / total if total else out


def card_values(card) -> tuple[dict[str, dict[str, float]], dict[str, tuple[float, float]]]:
    """From a harness.scoring.results.Scorecard: per-sample values of each benchmark with item data, and (score,
    stderr) of lm-eval aggregates."""
    values, normal = {}, {}
    for name, r in card.benchmarks.items():
        s = r.summary
        if s.get("lm_eval") is not None:
            if s.get("score") is not None:
                normal[name] = (float(s["score"]), float(s.get("stderr") or 0.0))
            continue
        v = per_sample_values(r.samples)
        if v:
            values[name] = v
    return values, normal


def attach(result: dict[str, Any], scheme: "Scheme", card, resamples: int = RESAMPLES, seed: int = SEED,
           stream: str = "", paired: set[str] = frozenset(),
           inputs: "dict[str, np.ndarray] | None" = None) -> "dict[str, np.ndarray]":
    """Add `uncertainty`, each part's `ci95` and `total_ci95` to a points result; return the parts' replicates."""
    if resamples < 100:
        from harness.errors import ConfigError

        raise ConfigError(f"--resamples {resamples}: use at least 100 (default {RESAMPLES:,})")
    values, normal = card_values(card)
    unc, parts = points_uncertainty(scheme, result, values, normal, resamples, seed, stream, paired, inputs)
    unc["notes"] += [f"{name}: from the run's items, resampled within each area" for name in (inputs or {})]
    result["uncertainty"] = unc
    for name, p in result["parts"].items():
        p["ci95"] = unc["parts"].get(name, {}).get("ci95")
    result["total_ci95"] = unc["total"]["ci95"] if unc["total"] else None
    return parts


def versus_target(result: dict[str, Any], scheme: "Scheme", parts: "dict[str, np.ndarray]",
                  target: dict) -> dict[str, Any]:
    """Our total against a published target's total over the `mean` parts both have (the same benchmarks)."""
    from statistics import mean

    from harness.scoring.targets import target_value

    theirs, compared, skipped = {}, [], []
    for p in scheme.parts:
        ours = result["parts"][p.name]
        if p.kind != "mean":
            why = "relative to the target itself" if p.kind == "target_ratio" else "no target value"
            skipped.append(f"{p.name} ({why})")
            continue
        if ours.get("points") is None:
            skipped.append(f"{p.name} (no points of ours)")
            continue
        vals = {b: target_value(target, b)[0] for b in ours["inputs"]}
        missing = [b for b, v in vals.items() if v is None]
        if missing:
            skipped.append(f"{p.name} (no published target score for {', '.join(missing)})")
            continue
        theirs[p.name] = mean(vals.values()) * p.weight
        compared.append(p.name)
    out = {"against": target.get("display_name", target["name"]), "kind": "published target", "parts": compared,
           "not_compared": skipped}
    if compared:
        out.update(ours=round(sum(result["parts"][p]["points"] for p in compared), 4),
                   theirs=round(sum(theirs.values()), 4),
                   probability_higher=round(probability_higher(parts, theirs, compared), 4),
                   note="the target's published scores are fixed numbers: only our sampling uncertainty counts")
    return out


def versus_run(result: dict[str, Any], scheme: "Scheme", parts: "dict[str, np.ndarray]", card, other: dict[str, Any],
               other_card, resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, Any]:
    """Our total against another run's (`other`: its points result, `other_card` its results) over the parts both
    have from the same benchmarks. A benchmark scored on the same samples in both is resampled paired (the same
    samples drawn for both); others independently."""
    ours_v, _ = card_values(card)
    theirs_v, _ = card_values(other_card)
    paired = {b for b, v in theirs_v.items() if b in ours_v and list(ours_v[b]) == list(v)}
    other_parts = attach(other, scheme, other_card, resamples, seed, stream="against:", paired=paired)
    compared, skipped = [], []
    for p in scheme.parts:
        a, b = result["parts"][p.name], other["parts"][p.name]
        if p.kind == "input":
            skipped.append(f"{p.name} (a number from outside, not a run's)")
        elif a.get("points") is None or b.get("points") is None:
            skipped.append(f"{p.name} (missing in {'ours' if a.get('points') is None else 'theirs'})")
        elif p.kind == "mean" and set(a["inputs"]) != set(b["inputs"]):
            skipped.append(f"{p.name} (different benchmarks: ours {len(a['inputs'])}, theirs {len(b['inputs'])})")
        else:
            compared.append(p.name)
    out = {"against": other.get("model"), "kind": "run", "run_dirs": other.get("run_dirs"), "parts": compared,
           "not_compared": skipped}
    if compared:
        out.update(ours=round(sum(result["parts"][p]["points"] for p in compared), 4),
                   theirs=round(sum(other["parts"][p]["points"] for p in compared), 4),
                   probability_higher=round(probability_higher(parts, other_parts, compared), 4),
                   paired=sorted(paired),
                   note="benchmarks on the same samples resampled paired, others independently")
    return out
