"""The written report: everything `harness report` knows about a model's runs, as tables, rendered to Markdown.

`gather` collects it from run directories (merged like `harness points`): per-benchmark scores beside their
truncation, unparsed and error rates and validity, per-category scores, the comparison with each target model, the
points under a scheme, and each run's manifest (provenance). `tables` turns that into plain tables that the Markdown
and the HTML report (harness/report/html.py) both render, so the two always say the same thing.

An invalid score is never shown as a plain number: its cell is struck through (`~~66.67~~`, `<s>` in HTML) and its
status names the reason. All text from run files (model names, paths, reasons) is escaped: `<`, `>`, `&` become
entities and the Markdown characters \\ ` * [ ] | are backslash-escaped, so nothing in a run directory can inject
markup or links into a rendered report.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.scoring.results import BenchmarkResult, Scorecard, load_results
from harness.store import read_json
from harness.summary import load_summary


@dataclass
class Report:
    card: Scorecard
    manifests: dict[str, dict]  # run dir → manifest.json
    summaries: dict[str, dict]  # run dir → summary.json
    comparisons: list[dict] = field(default_factory=list)  # harness.scoring.targets.compare() + "sources"
    points: dict | None = None  # harness.scorecard.points()
    generated: str = ""
    paired: dict | None = None  # harness.scoring.paired.compare_runs(baseline, this run)

    @property
    def model(self) -> str:
        return self.card.model


def gather(dirs: list[Path], targets: list[str] = (), scheme: str | None = "stage1", team: str | None = None,
           nia: list[Path] | None = None, nia_score: float | None = None, baseline: Path | None = None) -> Report:
    """Read run directories and compute comparisons and points. Targets default to the team's target. `baseline`:
    another run compared with this one item by item (harness.scoring.paired)."""
    from harness.scorecard import points, scores_of
    from harness.scoring.targets import compare, load_target
    from harness.scoring.teams import load_team

    dirs = [Path(d) for d in dirs]
    if baseline is not None and len(dirs) != 1:
        from harness.errors import ConfigError

        raise ConfigError("--baseline compares one run directory with another; merge shards first "
                          "(harness merge DIR... --out DIR)")
    names = list(targets)
    if not names and team:
        own = load_team(team).get("target")
        names = [own] if own else []
    target_data = [load_target(n) for n in dict.fromkeys(names)]  # a wrong name fails before any run is read
    # points first: it reads the records itself, and its copy is freed before ours is loaded (one copy at a time)
    pts = points(dirs, scheme, team, nia or None, nia_score) if scheme else None
    card = load_results(dirs)
    report = Report(card, {str(d): read_json(d / "manifest.json") for d in dirs},
                    {str(d): load_summary(d) for d in dirs}, points=pts,
                    generated=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    for data in target_data:
        c = compare(scores_of(card), data)
        c["sources"] = data.get("sources", [])
        report.comparisons.append(c)
    if baseline is not None:
        from harness.scoring.paired import compare_runs

        report.paired = compare_runs(Path(baseline), dirs[0])
    return report


# ---- tables ---------------------------------------------------------------------------------------------------

class Struck(str):
    """A cell whose number is not a valid result: struck through when rendered."""


@dataclass
class Table:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    align: str = ""  # one letter per column, l or r (default l)
    row_classes: list[str] = field(default_factory=list)  # per row: "" | "invalid" | "incomplete" | "total"
    notes: list[str] = field(default_factory=list)


def num(x: float | None, nd: int = 2) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def ci_text(ci, nd: int = 1) -> str:
    return "-" if not ci else f"{ci[0]:.{nd}f}–{ci[1]:.{nd}f}"


def status(s: dict) -> str:
    return "valid" if s.get("valid") else f"INVALID: {s.get('invalid_reason') or 'no reason recorded'}"


def score_table(report: Report) -> Table:
    t = Table("Scores", ["benchmark", "score", "95% CI", "stderr", "n", "repeats", "truncation", "unparsed", "error",
                         "status"], align="lrrrrrrrrl")
    for name, r in report.card.benchmarks.items():
        s = r.summary
        score = num(s.get("score"))
        t.rows.append([name, score if r.valid else Struck(score), ci_text(s.get("ci95")), num(s.get("stderr")),
                       str(s.get("n", "-")), str(s.get("repeats", "-")), pct(s.get("truncation_rate")),
                       pct(s.get("unparsed_rate")), pct(s.get("error_rate")), status(s)])
        t.row_classes.append("" if r.valid else "invalid")
    invalid = [n for n, r in report.card.benchmarks.items() if not r.valid]
    if invalid:
        t.notes.append(f"Struck-through scores are not valid results ({', '.join(invalid)}): see their status; they "
                       "are left out of comparisons' overall figure and of points.")
    t.notes.append("Score: mean over samples of each sample's mean over repeats × 100; stderr and the 95% CI "
                   "(Student's t) treat the sample as the unit.")
    return t


def category_counts(result: BenchmarkResult) -> dict[str, int]:
    """Distinct samples per category, from the latest record per item."""
    seen: dict[str, set] = {}
    for rec in result.samples:
        if rec.get("category"):
            seen.setdefault(rec["category"], set()).add(str(rec["sample_id"]))
    return {c: len(v) for c, v in seen.items()}


def category_tables(report: Report) -> list[Table]:
    out = []
    for name, r in report.card.benchmarks.items():
        cats = r.summary.get("categories") or {}
        if not cats:
            continue
        counts = category_counts(r)
        t = Table(f"Categories: {name}", ["category", "score", "samples"], align="lrr")
        for c, v in cats.items():
            t.rows.append([c, num(v) if r.valid else Struck(num(v)), str(counts.get(c, "-"))])
            t.row_classes.append("" if r.valid else "invalid")
        if not r.valid:
            t.notes.append(f"{name} is not a valid result: {r.summary.get('invalid_reason')}")
        out.append(t)
    return out


def comparison_table(report: Report, c: dict) -> Table:
    t = Table(f"{report.model} vs {c['display_name']}",
              ["benchmark", "ours", "95% CI", "target", "difference", "ratio", "outside our CI", "note"],
              align="lrrrrrrl")
    disagree = []
    for name, row in c["benchmarks"].items():
        valid = row.get("valid", True) or row.get("ours") is None
        ours = num(row.get("ours"))
        target = num(row.get("target"))
        values = row.get("target_values") or []
        if len(values) > 1:
            target += "*"
            disagree.append(f"{name}: " + ", ".join(f"{v['value']} ({v['source']})" for v in values))
        note = row.get("note", "")
        if not valid:
            note = "our score is invalid: not counted in the overall figure"
        t.rows.append([name, ours if valid else Struck(ours), ci_text(row.get("ci95")), target,
                       num(row.get("difference")),
                       "-" if row.get("ratio") is None else f"{100 * row['ratio']:.1f}%",
                       {True: "yes", False: "no"}.get(row.get("outside_ci"), "-"), note])
        t.row_classes.append("" if valid else "invalid")
    ov = c.get("overall")
    t.notes.append(f"Overall: {ov['formula']} (valid scores with a published target score)" if ov else
                   "Overall: no benchmark with a valid score of ours and a published target score.")
    if disagree:
        t.notes.append("* sources disagree; the first listed is used. " + "; ".join(disagree))
    for s in c.get("sources", []):
        t.notes.append(f"Source {s.get('id')}: {s.get('title', '')}, {s.get('url', '')}, {s.get('date', '')}")
    return t


def paired_table(report: Report) -> Table | None:
    """The paired comparison with a baseline run: B (this run) − A (the baseline) on the shared items."""
    c = report.paired
    if not c:
        return None
    t = Table(f"{report.model} (B) − {c['run_a']['model']} (A, {c['run_a']['run_id']}), item by item",
              ["benchmark", "samples", "A", "B", "B − A", "95% CI", "p", "test", "B better", "B worse", "note"],
              align="lrrrrrrlrrl")
    for name, r in c["benchmarks"].items():
        sa, sb = num(r.get("score_a")), num(r.get("score_b"))
        bad = [x.upper() for x in ("a", "b") if not r.get(f"valid_{x}")]
        ci = r.get("ci95")
        test = r.get("test") or ""
        t.rows.append([name, str(r["n"]), sa if r.get("valid_a") else Struck(sa),
                       sb if r.get("valid_b") else Struck(sb),
                       "-" if r.get("difference") is None else f"{r['difference']:+.2f}",
                       "-" if not ci else f"{ci[0]:+.2f} to {ci[1]:+.2f}",
                       "-" if r.get("p_value") is None else f"{r['p_value']:.3g}",
                       "McNemar (exact)" if test.startswith("McNemar") else ("paired bootstrap" if test else "-"),
                       str(r.get("gained", "-")), str(r.get("lost", "-")),
                       "; ".join([f"{x} INVALID: {r.get(f'invalid_reason_{x.lower()}')}" for x in bad]
                                 + ([r["note"]] if r.get("note") else []))])
        t.row_classes.append("invalid" if bad else "")
    t.notes.append(f"A: {c['run_a']['dir']}; B: {c['run_b']['dir']}. Samples scored in both runs; a sample's value is "
                   "the mean of its repeats. B better / worse: samples whose value rose / fell.")
    t.notes.append(f"95% CI: paired bootstrap over samples, {c['resamples']:,} resamples, seed {c['seed']}. p: "
                   "McNemar's exact test where verdicts are binary with one repeat, else the paired bootstrap.")
    t.notes += [f"{n}: not compared ({why})" for n, why in c.get("not_compared", {}).items()]
    t.notes += c.get("notes", [])
    return t


def points_table(report: Report) -> Table | None:
    p = report.points
    if not p:
        return None
    t = Table(f"Points: {p['scheme']} (version {p['scheme_version']})",
              ["part", "points", "max", "formula", "missing", "95% CI"], align="lrrllr")
    for name, part in p["parts"].items():
        t.rows.append([name, num(part["points"]), num(part["max_points"], 0), part["formula"],
                       "; ".join(part["missing"]) or "-", ci_text(part.get("ci95"), 2)])
        t.row_classes.append("" if part["complete"] else "incomplete")
    t.rows.append(["total", num(p["total"]), num(p["total_max"], 0), p["formula"],
                   "-" if p["complete"] else "incomplete: the parts named above are missing (not counted as 0)",
                   ci_text(p.get("total_ci95"), 2)])
    t.row_classes.append("total")
    u = p.get("uncertainty")
    if u:
        t.notes.append(f"95% CI: {u['method']}, seed {u['seed']}." + "".join(f" {n}." for n in u["notes"]))
    for v in p.get("versus") or []:
        if v.get("probability_higher") is not None:
            t.notes.append(f"Against {v['against']} ({v['kind']}) over {', '.join(v['parts'])}: ours "
                           f"{v['ours']:.2f}, theirs {v['theirs']:.2f}; probability ours is higher "
                           f"{v['probability_higher']:.3f} ({v['note']}).")
    if p.get("team"):
        t.notes.append(f"Team: {p['team']}; target: {p.get('target') or '-'}")
    nia = p.get("nia")
    if nia:
        t.notes.append(f"NIA: {num(nia.get('value'))} ({nia.get('formula') or nia.get('reason')})")
    return t


def _kv(d: dict | None) -> str:
    if not d:
        return "-"
    return ", ".join(f"{k}={' '.join(map(str, v)) if isinstance(v, list) else v}" for k, v in d.items()
                     if v not in (None, [], {}, ""))


def provenance_tables(report: Report) -> list[Table]:
    """One field/value table per run directory, then one row per benchmark per run directory."""
    out = []
    for d, m in report.manifests.items():
        h = m.get("harness") or {}
        git = h.get("git") or {}
        model = m.get("model") or {}
        t = Table(f"Run {m.get('run_id', '-')}", ["field", "value"])
        t.rows = [
            ["run directory", d],
            ["created", str(m.get("created", "-"))],
            ["updated", str(report.summaries.get(d, {}).get("updated", "-"))],
            ["complete", str(report.summaries.get(d, {}).get("complete", "-"))],
            ["harness", f"{h.get('version', '-')}, git {git.get('commit') or 'unknown'}"
                        f"{' (uncommitted changes)' if git.get('dirty') else ''}"],
            ["model", f"{model.get('name') or '-'} = {model.get('model', '-')}"],
            ["engine", _kv(m.get("engine"))],
            ["command", " ".join(map(str, m.get("command") or [])) or "-"],
            ["hardware", _kv(m.get("hardware"))],
            ["validity thresholds", _kv(m.get("thresholds"))],
        ]
        for role, desc in (m.get("roles") or {}).items():
            t.rows.append([role, _kv(desc)])
        out.append(t)
    benches = Table("Benchmarks", ["benchmark", "run", "version", "task sha256", "data", "data sha256", "samples",
                                   "repeats", "seed", "generation"], align="llllllrrrl")
    for d, m in report.manifests.items():
        for b, bm in (m.get("benchmarks") or {}).items():
            data = bm.get("data") or {}
            where = data.get("path") or (f"{data.get('hf')}@{data.get('revision')}" if data.get("hf") else None)
            benches.rows.append([b, str(m.get("run_id", d)), str(bm.get("version", "-")),
                                 str(bm.get("task_sha256") or "-")[:12],
                                 f"{data.get('kind', '')} {where or '-'}".strip(),
                                 str(data.get("sha256") or "-")[:12], str(bm.get("samples", "-")),
                                 str(bm.get("repeats", "-")), str(bm.get("seed", "-")), _kv(bm.get("generation"))])
    benches.notes.append("task and data sha256: first 12 hex digits (full values in each manifest.json)")
    return out + [benches]


def headline(report: Report) -> list[tuple[bool, str]]:
    """The report's summary lines, each (good news?, text): validity, % of each target, points."""
    card = report.card.benchmarks
    bad = [n for n, r in card.items() if not r.valid]
    out = [(not bad, f"{len(card) - len(bad)} of {len(card)} benchmarks valid")]
    if bad:
        out.append((False, "INVALID: " + ", ".join(bad)))
    for c in report.comparisons:
        ov = c.get("overall")
        out.append((True, f"{ov['percent_of_target']:.1f}% of {c['display_name']} over {ov['benchmarks']} benchmarks"
                    if ov else f"no benchmark to compare with {c['display_name']}"))
    p = report.points
    if p:
        ci = p.get("total_ci95")
        out.append((p["complete"], f"{p['scheme']} points: {num(p['total'])} / {p['total_max']:g}"
                    + (f" (95% CI {ci_text(ci, 2)})" if ci else "")
                    + ("" if p["complete"] else " (incomplete: parts missing)")))
    c = report.paired
    if c:
        moved = [f"{n} {r['difference']:+.2f} (p {r['p_value']:.2g})" for n, r in c["benchmarks"].items()
                 if r.get("difference") is not None]
        out.append((True, f"vs baseline {c['run_a']['run_id']}: " + (", ".join(moved) or "no shared items")))
    return out


def tables(report: Report) -> dict[str, list[Table]]:
    """The report's sections, in order: section title → tables."""
    out = {"Scores": [score_table(report)]}
    cats = category_tables(report)
    if cats:
        out["Categories"] = cats
    if report.comparisons:
        out["Comparison with target models"] = [comparison_table(report, c) for c in report.comparisons]
    pc = paired_table(report)
    if pc:
        out["Paired comparison with the baseline run"] = [pc]
    pt = points_table(report)
    if pt:
        out["Points"] = [pt]
    out["Provenance"] = provenance_tables(report)
    return out


# ---- Markdown --------------------------------------------------------------------------------------------------

def md(text: Any) -> str:
    """Escape text for a Markdown table cell or line: no raw HTML, no column breaks, one line."""
    s = html.escape(str(text), quote=False)
    for ch in "\\`*[]|":
        s = s.replace(ch, "\\" + ch)
    return " ".join(s.split()) if "\n" in s or "\r" in s else s


def _md_cell(c: str) -> str:
    return f"~~{md(c)}~~" if isinstance(c, Struck) and c != "-" else md(c)


def md_table(t: Table, section: str = "") -> str:
    align = (t.align or "").ljust(len(t.columns), "l")
    lines = ["| " + " | ".join(md(c) for c in t.columns) + " |",
             "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"]
    for row, cls in zip(t.rows, t.row_classes or [""] * len(t.rows)):
        cells = [_md_cell(c) for c in row]
        if cls == "total":
            cells = [f"**{c}**" if c and c != "-" else c for c in cells[:2]] + cells[2:]
        lines.append("| " + " | ".join(cells) + " |")
    out = ("" if t.title == section else f"### {md(t.title)}\n\n") + "\n".join(lines) + "\n"
    if t.notes:
        out += "\n" + "\n".join(f"- {md(n)}" for n in t.notes) + "\n"
    return out


def render(report: Report) -> str:
    parts = [f"# Benchmark report: {md(report.model)}\n",
             "Run directories: " + ", ".join(md(d) for d in report.card.run_dirs) + "  ",
             f"Generated: {md(report.generated)}\n",
             "\n".join(f"- {md(text)}" for _, text in headline(report)) + "\n"]
    for section, ts in tables(report).items():
        parts.append(f"## {md(section)}\n")
        parts += [md_table(t, section) for t in ts]
    return "\n".join(parts)
