"""Plots for the HTML report, as PNG bytes.

Drawn with matplotlib's object API (`matplotlib.figure.Figure`, rendered by the Agg canvas): pyplot and its global
state are never touched, so no display and no backend setting is needed.

- `benchmark_bars`: per benchmark, our score (95% CI as error bars) beside each target model's published score.
- `radars`: ours against the targets by area, and each benchmark's own categories (`summary.categories`).
  A benchmark's area is the `area:` of its task YAML (tasks/benchmarks/<name>.yaml; the 13 common benchmarks are
  grouped into knowledge, math, code, instruction following, agentic and long context, by what each mainly
  measures). An area's value is the mean of our valid scores of its benchmarks; a target's value is the mean of its
  published scores over the same benchmarks. Areas are in alphabetical order. Benchmarks without an area (nia,
  lmeval:…) are not in the area radar. With fewer than 3 areas, the radar's axes are the benchmarks themselves; with
  fewer than 3 of those, no radar is drawn.
  Targets publish no per-category numbers, so a category radar shows ours only, with each target's overall score on
  that benchmark as a dotted ring.
- `repeat_spread`: per benchmark, the score of each repeat (`summary.repeat_scores`) as dots, a box when there are
  3 or more, and the benchmark score with its 95% CI as a line and band.

An invalid score is never drawn like a valid one: its bar is hollow, hatched and labelled INVALID, it is left out of
the area radar (and named in the caption), and its category radar and repeat dots are grey and titled INVALID.
"""

from __future__ import annotations

import io
import math
import re
import warnings
from dataclasses import dataclass
from functools import lru_cache
from statistics import mean

from harness.report.markdown import Report

def benchmark_area(name: str) -> str | None:
    """The `area:` of a benchmark's task YAML; None for a benchmark without one or without a task YAML (lmeval:…)."""
    from harness.config import benchmark_names, load_benchmark_spec
    from harness.errors import HarnessError

    if name not in benchmark_names():
        return None
    try:
        return load_benchmark_spec(name).area
    except HarnessError:
        return None


OURS = "#2563eb"
INVALID = "#dc2626"
TARGET_COLOURS = ["#f59e0b", "#10b981", "#8b5cf6", "#64748b", "#ec4899", "#0891b2", "#84cc16", "#a16207"]


@dataclass
class Plot:
    title: str
    caption: str
    png: bytes  # empty: not drawn (the caption says why)


def _figure(w: float, h: float):
    from matplotlib.figure import Figure

    return Figure(figsize=(w, h), dpi=100, layout="constrained")


def _png(fig) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Glyph .* missing from")  # e.g. Hangul without a CJK font
        fig.savefig(buf, format="png", facecolor="white", bbox_inches="tight", pad_inches=0.15)
    return buf.getvalue()


_CJK_FONTS = ("Noto Sans CJK KR", "NanumGothic", "Noto Sans KR", "UnDotum")


class _FontNoise:
    """A logging filter for matplotlib's font manager: a Korean font without a bold face makes it log "findfont: Failed
    to find font weight bold ... now using 400" for every bold label (the regular face is used; nothing is lost), and
    any other findfont message would repeat per label. Drop the first kind, let each other message through once."""

    def __init__(self) -> None:
        self.seen: set[str] = set()

    def filter(self, record) -> bool:
        msg = record.getMessage()
        if "Failed to find font weight" in msg or msg in self.seen:
            return False
        self.seen.add(msg)
        return True


@lru_cache(maxsize=1)
def _font_paths() -> tuple[list[str], list[str]]:
    """(font families to use: DejaVu Sans then any installed Korean font, their files)."""
    import logging

    from matplotlib import font_manager

    logging.getLogger("matplotlib.font_manager").addFilter(_FontNoise())

    have = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    if not any(f in have for f in _CJK_FONTS):  # installed after matplotlib cached its font list
        for path in font_manager.findSystemFonts():
            if re.search(r"(NanumGothic|NotoSansCJK-Regular|NotoSansKR-Regular)\.(ttf|ttc|otf)$", path):
                font_manager.fontManager.addfont(path)
        have = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    names = ["DejaVu Sans", *(f for f in _CJK_FONTS if f in have)]
    return names, [font_manager.findfont(font_manager.FontProperties(family=n)) for n in names]


def _fonts() -> dict:
    return {"font.family": _font_paths()[0], "font.size": 9}


@lru_cache(maxsize=4096)
def drawable(text: str) -> bool:
    """Whether the plot fonts have a glyph for every character (Hangul needs a Korean font installed)."""
    from matplotlib.ft2font import FT2Font

    fonts = [FT2Font(p) for p in _font_paths()[1]]
    return all(ch.isspace() or any(f.get_char_index(ord(ch)) for f in fonts) for ch in text)


def _labels(labels: list[str]) -> tuple[list[str], str]:
    """Labels the fonts can draw: one that cannot be drawn becomes #k, and the note says what #k is."""
    out, keys = [], []
    for i, label in enumerate(labels):
        if drawable(label):
            out.append(label)
        else:
            out.append(f"#{i + 1}")
            keys.append(f"#{i + 1} = {label}")
    note = f" (no installed font can draw some labels: {', '.join(keys)})" if keys else ""
    return out, note


def _ours(report: Report) -> str:
    return report.model if drawable(report.model) else "ours"


def _colour(i: int) -> str:
    return TARGET_COLOURS[i % len(TARGET_COLOURS)]


def _target_scores(report: Report) -> list[tuple[str, dict[str, float | None]]]:
    return [(c["display_name"], {b: r.get("target") for b, r in c["benchmarks"].items()})
            for c in report.comparisons]


# ---- (a) per-benchmark bars ------------------------------------------------------------------------------------

def benchmark_bars(report: Report) -> Plot:
    import matplotlib

    names = list(report.card.benchmarks)
    targets = _target_scores(report)
    series = 1 + len(targets)
    width = 0.8 / series
    with matplotlib.rc_context(_fonts()):
        fig = _figure(max(6.5, 0.45 * series * len(names) + 2.5), 4.4)
        ax = fig.add_subplot()
        for i, name in enumerate(names):
            r = report.card.benchmarks[name]
            x = i - 0.4 + width / 2
            score = r.score
            if score is None:
                ax.text(x, 1, "no score", rotation=90, ha="center", va="bottom", color=INVALID, fontsize=7)
            elif r.valid:
                ci = r.summary.get("ci95")
                yerr = [[score - ci[0]], [ci[1] - score]] if ci else None
                ax.bar(x, score, width, color=OURS, yerr=yerr, capsize=3, ecolor="#1e293b",
                       label=_ours(report) if i == 0 else None)
                ax.text(x, (ci[1] if ci else score) + 1, f"{score:.1f}", ha="center", va="bottom", fontsize=7)
            else:
                ax.bar(x, score, width, facecolor="white", edgecolor=INVALID, hatch="//", linewidth=1.2,
                       label=f"{_ours(report)} (INVALID)" if not any(
                           not report.card.benchmarks[n].valid for n in names[:i]) else None)
                ax.text(x, score + 1, "INVALID", rotation=90, ha="center", va="bottom", color=INVALID,
                        fontsize=7, fontweight="bold")
            for j, (tname, scores) in enumerate(targets):
                tx = x + (j + 1) * width
                v = scores.get(name)
                if v is None:
                    ax.text(tx, 1, "n/a", rotation=90, ha="center", va="bottom", color="#64748b", fontsize=7)
                else:
                    ax.bar(tx, v, width, color=_colour(j), label=tname if i == 0 else None)
        if targets and report.card.benchmarks[names[0]].score is None:
            ax.bar(0, 0, 0, color=OURS, label=_ours(report))  # legend entry when the first bar is missing
        ax.set_xticks(range(len(names)), names, rotation=30 if len(names) > 4 else 0, ha="right" if len(names) > 4
                      else "center")
        ax.set_ylim(0, 110)
        ax.set_ylabel("score (0–100)")
        ax.grid(axis="y", alpha=0.3)
        ax.set_axisbelow(True)
        ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
        png = _png(fig)
    cap = "Our score per benchmark with its 95% CI (error bars)"
    cap += ", beside " + ", ".join(t for t, _ in targets) + " (published scores)" if targets else "; no target given"
    invalid = [n for n in names if not report.card.benchmarks[n].valid]
    if invalid:
        cap += f". Hollow hatched bars marked INVALID are not valid results: {', '.join(invalid)}"
    return Plot("Scores against targets", cap + ".", png)


# ---- (b) radars ------------------------------------------------------------------------------------------------

@dataclass
class RadarData:
    axes: list[str]
    ours: list[float]
    targets: list[tuple[str, list[float | None]]]
    kind: str  # "areas" | "benchmarks"
    members: dict[str, list[str]]
    left_out: list[str]  # invalid or ungrouped benchmarks, with why


def radar_data(report: Report) -> RadarData | None:
    """Area axes (each benchmark's `area:` in its task YAML) when 3 or more areas have a valid score of ours, else
    benchmark axes, else None."""
    card = report.card.benchmarks
    valid = {n: r.score for n, r in card.items() if r.valid and r.score is not None}
    left_out = [f"{n} (invalid)" for n, r in card.items() if not r.valid or r.score is None]
    targets = _target_scores(report)
    area = {n: benchmark_area(n) for n in valid}
    members = {g: [b for b in valid if area[b] == g] for g in sorted({a for a in area.values() if a})}
    if len(members) >= 3:
        left_out += [f"{n} (not in an area)" for n in valid if not area[n]]

        def avg(vals):
            vals = [v for v in vals if v is not None]
            return mean(vals) if vals else None

        return RadarData([f"{g} ({len(bs)})" for g, bs in members.items()],
                         [mean(valid[b] for b in bs) for bs in members.values()],
                         [(t, [avg(s.get(b) for b in bs) for bs in members.values()]) for t, s in targets],
                         "areas", members, left_out)
    if len(valid) >= 3:
        return RadarData(list(valid), list(valid.values()), [(t, [s.get(b) for b in valid]) for t, s in targets],
                         "benchmarks", {b: [b] for b in valid}, left_out)
    return None


def _polar_axes(ax, labels: list[str]):
    angles = [2 * math.pi * i / len(labels) for i in range(len(labels))]
    ax.set_theta_offset(math.pi / 2)
    ax.set_theta_direction(-1)
    ax.set_xticks(angles, labels, fontsize=8)
    ax.set_ylim(0, 100)
    ax.set_yticks([20, 40, 60, 80, 100], ["20", "40", "60", "80", "100"], fontsize=6, color="#64748b")
    return angles


def _closed(angles: list[float], values: list[float | None]):
    vals = [float("nan") if v is None else v for v in values]
    return angles + angles[:1], vals + vals[:1]


def radars(report: Report) -> list[Plot]:
    import matplotlib

    out = []
    data = radar_data(report)
    with matplotlib.rc_context(_fonts()):
        if data:
            fig = _figure(6.2, 4.6)
            ax = fig.add_subplot(projection="polar")
            axes, note = _labels(data.axes)
            angles = _polar_axes(ax, axes)
            for j, (t, vals) in enumerate(data.targets):
                ax.plot(*_closed(angles, vals), color=_colour(j), linewidth=1.5, label=t)
            ax.plot(*_closed(angles, data.ours), color=OURS, linewidth=2.2, marker="o", markersize=4,
                    label=_ours(report))
            ax.fill(*_closed(angles, data.ours), color=OURS, alpha=0.15)
            ax.legend(loc="upper left", bbox_to_anchor=(1.08, 1.05), fontsize=8, frameon=False)
            if data.kind == "areas":
                cap = "Mean score by area (benchmarks per area in brackets): " + "; ".join(
                    f"{g}: {', '.join(bs)}" for g, bs in data.members.items())
            else:
                cap = "Score by benchmark (fewer than 3 areas have valid scores, so the axes are the benchmarks)"
            cap += note
            if data.left_out:
                cap += ". Left out: " + ", ".join(data.left_out)
            out.append(Plot("Ours against targets by area" if data.kind == "areas" else
                            "Ours against targets by benchmark", cap + ".", _png(fig)))
        else:
            out.append(Plot("Ours against targets by area", "Not drawn: a radar needs 3 or more areas or valid "
                            "benchmarks, and these runs have fewer.", b""))
        for name, r in report.card.benchmarks.items():
            cats = r.summary.get("categories") or {}
            if len(cats) >= 3:
                out.append(_category_radar(report, name, cats))
    return out


def _category_radar(report: Report, name: str, cats: dict[str, float]) -> Plot:
    r = report.card.benchmarks[name]
    fig = _figure(6.2, 4.6)
    ax = fig.add_subplot(projection="polar")
    labels, note = _labels(list(cats))
    angles = _polar_axes(ax, labels)
    ring = [a * 2 * math.pi / 180 for a in range(181)]
    for j, c in enumerate(report.comparisons):
        v = c["benchmarks"].get(name, {}).get("target")
        if v is not None:
            ax.plot(ring, [v] * len(ring), color=_colour(j), linestyle=":", linewidth=1.5,
                    label=f"{c['display_name']} overall {v:.1f}")
    colour = OURS if r.valid else "#94a3b8"
    ax.plot(*_closed(angles, list(cats.values())), color=colour, linewidth=2.2, marker="o", markersize=4,
            linestyle="-" if r.valid else "--", label=_ours(report) + ("" if r.valid else " (INVALID)"))
    if r.valid:
        ax.fill(*_closed(angles, list(cats.values())), color=OURS, alpha=0.15)
    ax.legend(loc="upper left", bbox_to_anchor=(1.08, 1.05), fontsize=8, frameon=False)
    if not r.valid:
        ax.set_title("INVALID", color=INVALID, fontweight="bold")
    cap = (f"{name}: our score per category ({len(cats)} categories); dotted rings are each target's overall "
           f"{name} score (no per-category target scores are published){note}")
    if not r.valid:
        cap += f". INVALID, not a valid result: {r.summary.get('invalid_reason')}"
    return Plot(f"Categories of {name}", cap + ".", _png(fig))


# ---- (c) spread of repeats -------------------------------------------------------------------------------------

def repeat_scores(report: Report, name: str) -> list[float]:
    """summary.repeat_scores, else computed from the latest record per item (mean score per repeat × 100)."""
    r = report.card.benchmarks[name]
    if r.summary.get("repeat_scores"):
        return list(r.summary["repeat_scores"])
    by: dict[int, list[float]] = {}
    for rec in r.samples:
        if rec.get("error") is None and rec.get("score") is not None:
            by.setdefault(int(rec["repeat"]), []).append(float(rec["score"]))
    return [100 * mean(v) for _, v in sorted(by.items())]


def repeat_ylim(values: list[float]) -> tuple[float, float]:
    """The y range of one benchmark's spread panel: its values with a margin, inside the 0-100 a score can take (a
    score of 0 never gets a negative axis)."""
    lo, hi = min(values, default=0.0), max(values, default=100.0)
    pad = max(1.5, 0.15 * (hi - lo))
    return max(0.0, lo - pad), min(100.0, max(hi + pad, lo + 2 * pad) if lo - pad < 0 else hi + pad)


def repeat_spread(report: Report) -> Plot:
    import matplotlib

    names = list(report.card.benchmarks)
    cols = min(4, len(names))
    rows = math.ceil(len(names) / cols)
    with matplotlib.rc_context(_fonts()):
        fig = _figure(3.0 * cols + 0.4, 2.5 * rows + 0.3)
        for i, name in enumerate(names):
            ax = fig.add_subplot(rows, cols, i + 1)
            r = report.card.benchmarks[name]
            rs = repeat_scores(report, name)
            ci = r.summary.get("ci95") if r.valid else None
            xs = [0.0] if len(rs) == 1 else [-0.18 + 0.36 * k / (len(rs) - 1) for k in range(len(rs))]
            if rs and len(rs) >= 3:
                ax.boxplot([rs], positions=[0], widths=0.55, showfliers=False,
                           medianprops={"color": OURS if r.valid else "#94a3b8"},
                           boxprops={"color": "#475569"}, whiskerprops={"color": "#475569"},
                           capprops={"color": "#475569"})
            if r.valid:  # clip_on=False: a score of 0 or 100 sits on the axis, drawn whole
                ax.scatter(xs, rs, s=28, color=OURS, zorder=3, label="repeat", clip_on=False)
            else:
                ax.scatter(xs, rs, s=28, facecolors="none", edgecolors="#94a3b8", zorder=3, clip_on=False)
            if r.score is not None:
                ax.axhline(r.score, color="#1e293b" if r.valid else "#94a3b8", linewidth=1, linestyle="--")
            if ci:
                ax.axhspan(ci[0], ci[1], color=OURS, alpha=0.08)
            ax.set_ylim(*repeat_ylim(rs + (list(ci) if ci else []) + ([r.score] if r.score is not None else [])))
            ax.set_xlim(-0.6, 0.6)
            ax.set_xticks([])
            spread = (f"{len(rs)} repeat{'s' if len(rs) > 1 else ''}, range {max(rs) - min(rs):.1f}" if rs
                      else "no scored repeats")
            if r.valid:
                ax.set_title(f"{name}\n{spread}", fontsize=8)
            else:
                ax.set_title(f"{name}: INVALID\n{spread}", fontsize=8, color=INVALID, fontweight="bold")
            ax.grid(axis="y", alpha=0.3)
        png = _png(fig)
    cap = ("Score of each repeat (dots; box when 3 or more), the benchmark score (dashed line) and its 95% CI "
           "over samples (band)")
    invalid = [n for n in names if not report.card.benchmarks[n].valid]
    if invalid:
        cap += f". Grey hollow dots titled INVALID are not valid results: {', '.join(invalid)}"
    return Plot("Spread of repeats", cap + ".", png)


def all_plots(report: Report) -> list[Plot]:
    return [benchmark_bars(report), *radars(report), repeat_spread(report)]
