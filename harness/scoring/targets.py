"""Target models: published per-benchmark scores with their sources (tasks/targets/*.yaml), and the comparison of a
scorecard against one.

Every value names the table it was read from (`source`, a source id; `also_in`: other tables printing the same
number). Where tables disagree (a README that changed between commits, two vendors) every value is kept. The value
used is the one from the target's `default_source` (else the first listed); `table_scores` gives any one table.
"""

from __future__ import annotations

from pathlib import Path
from statistics import mean
from typing import Any

from harness.config import _read_yaml, tasks_dir
from harness.errors import ConfigError


def target_names() -> list[str]:
    return sorted(p.stem for p in (tasks_dir() / "targets").glob("*.yaml"))


def load_target(name: str) -> dict[str, Any]:
    path = Path(name) if name.endswith((".yaml", ".yml")) else tasks_dir() / "targets" / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"unknown target {name!r}; known targets: {', '.join(target_names())}")
    data, _ = _read_yaml(path)
    for k in ("name", "sources", "scores"):
        if k not in data:
            raise ConfigError(f"{path}: missing {k!r}")
    ids = {s["id"] for s in data["sources"]}
    if data.get("default_source") is not None and data["default_source"] not in ids:
        raise ConfigError(f"{path}: default_source {data['default_source']!r} is not one of the sources")
    for bench, vals in {**data["scores"], **(data.get("extra_scores") or {})}.items():
        for v in _values(vals):
            cited = [v.get("source"), *(v.get("also_in") or [])]
            if v.get("same_as_vendor"):
                cited.append(v["same_as_vendor"].get("source"))
            for c in cited:
                if c not in ids:
                    raise ConfigError(f"{path}: {bench} cites unknown source {c!r}")
    return data


def _values(entry) -> list[dict]:
    return entry if isinstance(entry, list) else [entry]


def _in_table(v: dict, source: str) -> bool:
    return v.get("source") == source or source in (v.get("also_in") or [])


def target_value(target: dict, bench: str) -> tuple[float | None, list[dict]]:
    """(the value used, every published value with its source, the one used first). The value used is the one read
    from the target's `default_source` when it has one there, else the first listed."""
    entry = target["scores"].get(bench)
    if entry is None:
        return None, []
    vals = _values(entry)
    default = target.get("default_source")
    chosen = next((v for v in vals if default and _in_table(v, default)), vals[0])
    return chosen["value"], [chosen, *(v for v in vals if v is not chosen)]


def table_scores(target: dict, source: str, extra: bool = False) -> dict[str, float]:
    """benchmark → value as printed in one table (`source` id), for every benchmark that table has."""
    entries = {**target["scores"], **((target.get("extra_scores") or {}) if extra else {})}
    out = {}
    for bench, entry in entries.items():
        v = next((v for v in _values(entry) if _in_table(v, source)), None)
        if v is not None:
            out[bench] = v["value"]
    return out


def common_mean(target: dict, benchmarks: list[str], source: str | None = None) -> float | None:
    """Arithmetic mean over `benchmarks` of one table's values (default: the values used); None if one is missing."""
    vals = table_scores(target, source) if source else {b: target_value(target, b)[0] for b in target["scores"]}
    if any(vals.get(b) is None for b in benchmarks):
        return None
    return mean(vals[b] for b in benchmarks)


def compare(scores: dict[str, dict], target: dict, benchmarks: list[str] | None = None,
            source: str | None = None) -> dict[str, Any]:
    """`scores`: benchmark → summary entry. `benchmarks`: the set to compare on (default: ours). `source`: compare
    with one table (a source id of the target), default the target's `default_source`."""
    names = benchmarks or list(scores)
    if source is not None and source not in {s["id"] for s in target["sources"]}:
        raise ConfigError(f"target {target['name']}: no source {source!r}; sources: "
                          f"{', '.join(s['id'] for s in target['sources'])}")
    table = table_scores(target, source) if source else None
    rows, both = {}, []
    for b in names:
        ours = scores.get(b)
        a, all_vals = target_value(target, b)
        if table is not None:
            a = table.get(b)
        row: dict[str, Any] = {"ours": None, "target": a, "target_values": all_vals}
        if ours is not None:
            row.update(ours=ours.get("score"), ci95=ours.get("ci95"), valid=ours.get("valid"))
        if row["ours"] is not None and a is not None:
            row["difference"] = row["ours"] - a
            row["ratio"] = row["ours"] / a if a else None
            ci = row.get("ci95")
            row["outside_ci"] = bool(ci) and not (ci[0] <= a <= ci[1])
            if row.get("valid", True):
                both.append((row["ours"], a))
        elif row["ours"] is None:
            row["note"] = "no result of ours"
        else:
            row["note"] = "no published target score"
        rows[b] = row
    overall = None
    if both:
        mo, mt = mean(o for o, _ in both), mean(t for _, t in both)
        overall = {"benchmarks": len(both), "ours_mean": mo, "target_mean": mt, "percent_of_target": 100 * mo / mt,
                   "formula": f"mean ours {mo:.2f} / mean target {mt:.2f} over {len(both)} benchmarks "
                              f"= {100 * mo / mt:.1f}%"}
    return {"target": target["name"], "display_name": target.get("display_name", target["name"]),
            "target_source": source or target.get("default_source"), "benchmarks": rows, "overall": overall,
            "paired": False, "pairing": UNPAIRED}


UNPAIRED = ("not paired: a published table has one number per benchmark and no per-item results, so the difference "
            "has no paired test; 'outside CI' asks whether the target's number lies outside our own 95% CI (its "
            "uncertainty is unknown). Two runs of ours compare item by item: harness compare RUN_A RUN_B")
