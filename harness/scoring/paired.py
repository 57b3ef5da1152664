"""Paired comparison of two runs on the same items: `harness compare RUN_A RUN_B`, and the report's section.

Two runs of the same benchmark on the same data and prompts answer the same questions, so their difference is
measured item by item, which is far more precise than comparing two scores with their own CIs. Per benchmark:

- the items are the samples scored in both runs (a sample's value: the mean of its scored repeats, 0..1);
- the difference is B − A in points (0–100) over those samples;
- its 95% CI is a paired bootstrap: the per-sample differences resampled (samples are the unit; repeats of a sample
  stay together), percentile interval, `resamples` draws from a generator seeded with `seed` (both recorded);
- the test: with binary verdicts and one repeat, McNemar's exact test on the samples that flipped
  (harness.scoring.stats.mcnemar, equal to scipy.stats.binomtest on the discordant pairs); with means over repeats
  (or partial credit), the paired bootstrap's two-sided p-value;
- flips: samples whose value rose (B better) or fell (B worse).

Runs whose benchmark data differ (the manifests' data checksums or hub revisions) or whose shared items were asked
different prompts (`prompt_sha256` of their generation records) are refused, naming what differs: their items are
not the same questions. Different generation settings or scorers are allowed (that may be what is compared) and
named in `notes`. Items with an engine or scorer error are left out and counted.
"""

from __future__ import annotations

import zlib
from collections import defaultdict
from pathlib import Path
from typing import Any

from harness.errors import ConfigError, DataError
from harness.scoring.stats import bootstrap_means, bootstrap_p, mcnemar, percentile_ci
from harness.store import current_scorer, load_records, read_json

RESAMPLES = 10_000
SEED = 20260101
_DATA_KEYS = ("kind", "hf", "config", "split", "revision")


def _run(d: Path) -> dict[str, Any]:
    d = Path(d)
    if not d.is_dir():
        raise ConfigError(f"{d} is not a directory; give two run directories: harness compare RUN_A RUN_B")
    manifest = read_json(d / "manifest.json")
    summary = read_json(d / "summary.json") if (d / "summary.json").exists() else {"benchmarks": {}}
    return {"dir": d, "manifest": manifest, "summary": summary, "records": load_records(d)}


def _data_difference(a: dict, b: dict) -> str | None:
    """Why two manifest `data` entries are not the same data, or None. Checksums decide where both have one (the
    same file may sit at different paths on two machines); otherwise the hub id, config, split and revision."""
    if a.get("sha256") and b.get("sha256"):
        return None if a["sha256"] == b["sha256"] else f"data sha256 {a['sha256'][:12]}… vs {b['sha256'][:12]}…"
    diff = [k for k in _DATA_KEYS if a.get(k) != b.get(k)]
    if a.get("sha256") or b.get("sha256"):
        diff.append("sha256 (recorded in one run only)")
    if not diff and a.get("path") != b.get("path") and not (a.get("hf") or b.get("hf")):
        diff.append("path (and no checksum to tell the files are the same)")
    return None if not diff else "data " + ", ".join(
        f"{k} {a.get(k)!r} vs {b.get(k)!r}" if k in _DATA_KEYS else k for k in diff)


def _items(run: dict, bench: str) -> dict[tuple[str, int], dict]:
    recs = run["records"]
    scorer = current_scorer(run["manifest"], recs, bench)
    return {(i["sample_id"], i["repeat"]): i for i in recs.items(bench, scorer)}


def check_pairable(a: dict, b: dict, benchmarks: list[str],
                   items: dict[str, tuple[dict, dict]]) -> list[str]:
    """Every reason the runs' shared benchmarks are not the same questions, one line each."""
    problems = []
    for name in benchmarks:
        ma, mb = a["manifest"]["benchmarks"][name], b["manifest"]["benchmarks"][name]
        why = _data_difference(ma.get("data") or {}, mb.get("data") or {})
        if why:
            problems.append(f"{name}: {why}")
        ia, ib = items[name]
        shared = [k for k in ia if k in ib and ia[k].get("prompt_sha256") and ib[k].get("prompt_sha256")]
        differ = [k for k in shared if ia[k]["prompt_sha256"] != ib[k]["prompt_sha256"]]
        if differ:
            eg = ", ".join(f"sample {s} repeat {r}" for s, r in sorted(differ)[:3])
            problems.append(f"{name}: {len(differ)} of {len(shared)} shared items were asked different prompts "
                            f"(prompt_sha256), e.g. {eg}")
    return problems


def _per_sample(items: dict[tuple[str, int], dict]) -> tuple[dict[str, list[float]], int]:
    """sample id → its scored repeats' values; and the number of items left out for an engine or scorer error or
    no verdict yet."""
    out: dict[str, list[float]] = defaultdict(list)
    left_out = 0
    for (sid, _), i in items.items():
        if i.get("error") is None and i.get("score") is not None:
            out[sid].append(float(i["score"]))
        else:
            left_out += 1
    return out, left_out


def compare_benchmark(name: str, ia: dict, ib: dict, resamples: int = RESAMPLES, seed: int = SEED) -> dict[str, Any]:
    """The paired comparison of one benchmark from the two runs' item views keyed by (sample_id, repeat)."""
    import numpy as np

    sa, left_a = _per_sample(ia)
    sb, left_b = _per_sample(ib)
    shared = sorted(set(sa) & set(sb))
    row: dict[str, Any] = {"n": len(shared), "only_a": len(set(sa) - set(sb)), "only_b": len(set(sb) - set(sa)),
                           "left_out_a": left_a, "left_out_b": left_b}
    if not shared:
        row.update(note="no sample scored in both runs", difference=None, ci95=None, p_value=None)
        return row
    va = np.array([np.mean(sa[s]) for s in shared])
    vb = np.array([np.mean(sb[s]) for s in shared])
    d = vb - va
    binary = all(len(sa[s]) == 1 and len(sb[s]) == 1 for s in shared) and \
        all(v in (0.0, 1.0) for v in (*va, *vb))
    gained, lost = int(np.sum(d > 0)), int(np.sum(d < 0))
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    draws = 100 * bootstrap_means(d, resamples, rng)
    row.update(score_a=round(100 * float(va.mean()), 4), score_b=round(100 * float(vb.mean()), 4),
               difference=round(100 * float(d.mean()), 4), ci95=[round(c, 4) for c in percentile_ci(draws)],
               gained=gained, lost=lost, unchanged=len(shared) - gained - lost,
               repeats_a=max(len(v) for v in sa.values()), repeats_b=max(len(v) for v in sb.values()))
    if binary:
        t = mcnemar(gained, lost)
        row.update(test=t["test"], p_value=t["p_value"], table={"both_right": int(np.sum((va == 1) & (vb == 1))),
                                                                "gained": gained, "lost": lost,
                                                                "both_wrong": int(np.sum((va == 0) & (vb == 0)))})
    else:
        row.update(test=f"paired bootstrap of per-sample means over repeats ({resamples} resamples)",
                   p_value=bootstrap_p(draws))
    row["ci_method"] = (f"paired bootstrap, percentile: per-sample differences resampled {resamples} times "
                        f"(seed {seed})")
    return row


def compare_runs(run_a: Path, run_b: Path, benchmarks: list[str] | None = None, resamples: int = RESAMPLES,
                 seed: int = SEED) -> dict[str, Any]:
    """B − A per benchmark shared by two run directories, with a paired test; refuses runs whose data or prompts
    differ."""
    if resamples < 100:
        raise ConfigError(f"--resamples {resamples}: use at least 100 (default {RESAMPLES:,})")
    a, b = _run(run_a), _run(run_b)
    ba, bb = a["manifest"].get("benchmarks") or {}, b["manifest"].get("benchmarks") or {}
    names = [n for n in ba if n in bb]
    not_compared = {n: f"only in {a['dir']}" for n in ba if n not in bb}
    not_compared.update({n: f"only in {b['dir']}" for n in bb if n not in ba})
    if benchmarks:
        unknown = [n for n in benchmarks if n not in names]
        if unknown:
            raise ConfigError(f"--benchmarks: {', '.join(unknown)} not in both runs (shared: "
                              f"{', '.join(names) or 'none'})")
        not_compared.update({n: "left out (--benchmarks)" for n in names if n not in benchmarks})
        names = [n for n in names if n in benchmarks]
    if not names:
        raise DataError(f"{a['dir']} and {b['dir']} share no benchmark (A: {', '.join(ba) or 'none'}; "
                        f"B: {', '.join(bb) or 'none'})")
    items = {n: (_items(a, n), _items(b, n)) for n in names}
    problems = check_pairable(a, b, names, items)
    if problems:
        raise ConfigError(f"{a['dir']} and {b['dir']} cannot be compared item by item: " + "; ".join(problems)
                          + ". Compare runs of the same data and prompts, or leave these benchmarks out with "
                          "--benchmarks")
    notes = []
    rows = {}
    for n in names:
        ma, mb = ba[n], bb[n]
        row = compare_benchmark(n, *items[n], resamples=resamples, seed=seed)
        for label, run in (("a", a), ("b", b)):
            s = (run["summary"].get("benchmarks") or {}).get(n) or {}
            row[f"valid_{label}"] = bool(s.get("valid"))
            row[f"invalid_reason_{label}"] = s.get("invalid_reason")
        if ma.get("generation") != mb.get("generation"):
            notes.append(f"{n}: generation settings differ (A {_gen(ma)}; B {_gen(mb)})")
        if "lmeval" in (ma.get("module"), mb.get("module")):
            notes.append(f"{n}: an lm-eval entry, compared on its per-document scores (their mean can differ from "
                         "lm-eval's own aggregate, the summary's score)")
        if ma.get("scorer") != mb.get("scorer"):
            notes.append(f"{n}: scored by different scorers (A {ma.get('scorer')}, B {mb.get('scorer')})")
        rows[n] = row
    return {
        "kind": "paired", "difference": "B − A, points (0–100)",
        "run_a": _describe(a), "run_b": _describe(b), "resamples": resamples, "seed": seed,
        "benchmarks": rows, "not_compared": not_compared, "notes": notes,
    }


def _gen(m: dict) -> str:
    g = m.get("generation") or {}
    return ", ".join(f"{k}={v}" for k, v in g.items() if v not in (None, {}, [])) or "-"


def _describe(run: dict) -> dict[str, Any]:
    m, s = run["manifest"], run["summary"]
    model = m.get("model") or {}
    return {"dir": str(run["dir"]), "run_id": m.get("run_id"),
            "model": s.get("model") or model.get("name") or model.get("model")}
