"""Points schemes as data (tasks/schemes/*.yaml), evaluated by one small engine.

A scheme is a list of parts; each part is one of:
  mean          mean of benchmark scores (0–100) × weight          (stage 1 common: mean of 13 × 20/100)
  target_ratio  mean over the team's individual benchmarks of B/A, capped at `cap`, × points   (stage 1 individual);
                `cap_on: benchmark` caps each B/A before the mean, `cap_on: mean` caps the mean. Both figures are
                returned; `value` is the scheme's
  input         a number supplied from outside (NIA score, AA Intelligence Index) × weight
Every figure is returned with its inputs and the arithmetic as text. A missing or invalid input is named, never
counted as zero: the part is then `complete: false` and the total is marked incomplete.
"""

from __future__ import annotations

from pathlib import Path
from statistics import mean
from typing import Any, Literal

from pydantic import Field

from harness.config import Strict, _parse, _read_yaml, tasks_dir
from harness.errors import ConfigError


class Part(Strict):
    name: str
    kind: Literal["mean", "target_ratio", "input"]
    description: str = ""
    max_points: float
    weight: float | None = None  # mean / input: points = value × weight
    benchmarks: list[str] = Field(default_factory=list)  # mean: the benchmarks averaged
    input: str | None = None  # input: the name of the supplied number (nia, aa_index)
    cap: float = 1.0  # target_ratio: B/A is capped here
    # target_ratio: where the cap applies: each benchmark's B/A before averaging, or the mean of the uncapped ratios
    cap_on: Literal["benchmark", "mean"] = "benchmark"
    points: float | None = None  # target_ratio: points for a mean ratio of 1


class Scheme(Strict):
    name: str
    version: str
    description: str = ""
    source: str = ""
    total_max: float
    parts: list[Part]


def scheme_names() -> list[str]:
    return sorted(p.stem for p in (tasks_dir() / "schemes").glob("*.yaml"))


def load_scheme(name: str) -> Scheme:
    path = Path(name) if name.endswith((".yaml", ".yml")) else tasks_dir() / "schemes" / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"unknown scheme {name!r}; known schemes: {', '.join(scheme_names())}")
    data, _ = _read_yaml(path)
    scheme = _parse(Scheme, data, path)
    if abs(sum(p.max_points for p in scheme.parts) - scheme.total_max) > 1e-9:
        raise ConfigError(f"{path}: parts' max_points do not add up to total_max {scheme.total_max}")
    return scheme


def _fmt(x: float) -> str:
    return f"{x:.4f}".rstrip("0").rstrip(".")


def _mean_part(part: Part, scores: dict[str, dict]) -> dict[str, Any]:
    inputs, missing = {}, []
    for b in part.benchmarks:
        s = scores.get(b)
        if s is None or s.get("score") is None:
            missing.append(f"{b} (no result)")
        elif not s.get("valid", True):
            missing.append(f"{b} (invalid: {s.get('invalid_reason')})")
        else:
            inputs[b] = s["score"]
    out: dict[str, Any] = {"inputs": inputs, "missing": missing, "complete": not missing}
    if inputs:
        m = mean(inputs.values())
        pts = m * part.weight
        out.update(value=m, points=pts, formula=(
            f"mean of {len(inputs)} scores = ({' + '.join(_fmt(v) for v in inputs.values())}) / {len(inputs)} "
            f"= {_fmt(m)}; × {_fmt(part.weight)} = {_fmt(pts)}"))
        if missing:
            out["formula"] += f"  [over {len(inputs)} of {len(part.benchmarks)} benchmarks: incomplete]"
    else:
        out.update(value=None, points=None, formula="no scores")
    return out


def _ratio_part(part: Part, scores: dict[str, dict], team: dict | None) -> dict[str, Any]:
    if not team:
        return {"inputs": {}, "missing": ["--team (the team's individual benchmarks and target scores)"],
                "complete": False, "value": None, "points": None, "formula": "no team given"}
    inputs, missing, ratios = {}, [], []
    for item in team.get("individual", []):
        b, a = item["benchmark"], (item.get("target_score") or {}).get("value")
        ours = scores.get(b)
        if a is None:
            missing.append(f"{b} (target score unknown)")
        elif (ours is None or ours.get("score") is None) and item.get("not_runnable"):
            missing.append(f"{b} (no result: the harness cannot run it: {item['not_runnable']})")
        elif ours is None or ours.get("score") is None:
            missing.append(f"{b} (no result)")
        elif not ours.get("valid", True):
            missing.append(f"{b} (invalid: {ours.get('invalid_reason')})")
        else:
            raw = ours["score"] / a
            ratios.append(raw)
            inputs[b] = {"ours": ours["score"], "target": a, "ratio": min(raw, part.cap), "ratio_uncapped": raw}
    expected = team.get("individual_count", 5)
    if len(team.get("individual", [])) < expected:
        missing.append(f"{expected - len(team.get('individual', []))} individual benchmark(s) not named in the team "
                       "file")
    out: dict[str, Any] = {"inputs": inputs, "missing": missing, "complete": not missing, "cap_on": part.cap_on}
    if ratios:
        per_bench = mean(min(r, part.cap) for r in ratios)
        on_mean = min(mean(ratios), part.cap)
        m = per_bench if part.cap_on == "benchmark" else on_mean
        pts = m * part.points
        if part.cap_on == "benchmark":
            terms = " + ".join(f"min({_fmt(v['ours'])}/{_fmt(v['target'])}, {_fmt(part.cap)})" for v in inputs.values())
            text = f"({terms}) / {len(ratios)} = {_fmt(m)}"
        else:
            terms = " + ".join(f"{_fmt(v['ours'])}/{_fmt(v['target'])}" for v in inputs.values())
            text = f"min(({terms}) / {len(ratios)}, {_fmt(part.cap)}) = {_fmt(m)}"
        out.update(value=m, points=pts, formula=f"{text}; × {_fmt(part.points)} = {_fmt(pts)}",
                   value_cap_per_benchmark=per_bench, value_cap_on_mean=on_mean,
                   points_cap_per_benchmark=per_bench * part.points, points_cap_on_mean=on_mean * part.points)
    else:
        out.update(value=None, points=None, formula="no individual benchmark with both scores")
    return out


def _input_part(part: Part, inputs: dict[str, float]) -> dict[str, Any]:
    v = inputs.get(part.input)
    if v is None:
        return {"inputs": {}, "missing": [f"{part.input} (not supplied)"], "complete": False, "value": None,
                "points": None, "formula": f"{part.input} not supplied"}
    pts = v * part.weight
    return {"inputs": {part.input: v}, "missing": [], "complete": True, "value": v, "points": pts,
            "formula": f"{part.input} {_fmt(v)} × {_fmt(part.weight)} = {_fmt(pts)}"}


def compute_points(scheme: Scheme, scores: dict[str, dict], team: dict | None = None,
                   inputs: dict[str, float] | None = None) -> dict[str, Any]:
    """`scores`: benchmark name → summary entry (score, valid, invalid_reason)."""
    parts = {}
    for p in scheme.parts:
        if p.kind == "mean":
            r = _mean_part(p, scores)
        elif p.kind == "target_ratio":
            r = _ratio_part(p, scores, team)
        else:
            r = _input_part(p, inputs or {})
        parts[p.name] = {"max_points": p.max_points, "description": p.description, **r}
    got = [v["points"] for v in parts.values() if v["points"] is not None]
    total = sum(got) if got else None
    complete = all(v["complete"] for v in parts.values())
    return {
        "scheme": scheme.name,
        "scheme_version": scheme.version,
        "total": total,
        "total_max": scheme.total_max,
        "complete": complete,
        "formula": " + ".join(f"{k} {_fmt(v['points'])}" if v["points"] is not None else f"{k} (missing)"
                              for k, v in parts.items()) + (f" = {_fmt(total)}" if total is not None else ""),
        "parts": parts,
    }
