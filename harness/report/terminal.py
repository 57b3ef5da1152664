"""The scorecard table printed after a run: every score beside its truncation, unparsed and error rates."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table


def _pct(x) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def scorecard(summary: dict, console: Console | None = None) -> None:
    console = console or Console()
    t = Table(title=f"{summary['model']}  ({summary['run_id']})", title_justify="left")
    for col, kw in (("benchmark", {}), ("score", {"justify": "right"}), ("95% CI", {"justify": "right"}),
                    ("n", {"justify": "right"}), ("rep", {"justify": "right"}), ("trunc", {"justify": "right"}),
                    ("unparsed", {"justify": "right"}), ("error", {"justify": "right"}), ("status", {})):
        t.add_column(col, **kw)
    for name, b in summary["benchmarks"].items():
        score = "-" if b["score"] is None else f"{b['score']:.2f}"
        ci = "-" if not b.get("ci95") else f"{b['ci95'][0]:.1f}–{b['ci95'][1]:.1f}"
        status = "[green]valid[/]" if b["valid"] else "[red]INVALID[/]"
        t.add_row(name, score if b["valid"] else f"[dim]{score}[/]", ci, str(b["n"]), str(b["repeats"]),
                  _pct(b["truncation_rate"]), _pct(b["unparsed_rate"]), _pct(b["error_rate"]), status)
    console.print(t)
    for name, b in summary["benchmarks"].items():
        if not b["valid"]:
            console.print(f"  [red]{name}[/] not a valid score: {b['invalid_reason']}", highlight=False)
    if not summary.get("complete", True):
        done = sum(b["items"] for b in summary["benchmarks"].values())
        planned = sum(b["items_expected"] for b in summary["benchmarks"].values())
        console.print(f"[yellow]incomplete run[/]: {done} of {planned} items answered"
                      + (" (summary computed from the records: the run stopped before writing summary.json)"
                         if summary.get("recomputed") else "")
                      + "; re-run the same command to finish", highlight=False)


def plain_reason(b: dict) -> str:
    """Why a score is invalid, in words a newcomer reads: the largest of its rates against its limit."""
    reason = b.get("invalid_reason") or "invalid"
    if reason.startswith(("every request failed", "every item failed", "incomplete")):
        return reason.split("; ")[0]
    words = {"truncation_rate": "of the answers hit the token budget (cut off)",
             "unparsed_rate": "of the answers have no readable answer", "error_rate": "of the items failed"}
    said = [f"{f'{100 * b[k]:.1f}'.removesuffix('.0')}% {w}" for k, w in words.items()
            if b.get(k) is not None and f"{k} " in reason]
    if said:
        return "; ".join(said)
    return reason


def embedded_note(summary: dict, console: Console) -> None:
    """After a run on the embedded SmolLM2-135M: what such a run shows, why each score is invalid (one line each), and
    the command to run next on a GPU server (README: On a GPU server with vLLM)."""
    console.print("[b]This was a plumbing check.[/] The embedded SmolLM2-135M runs on CPU so that the data, "
                  "generation, scoring and records can be checked on any machine; a 135M model cannot answer these "
                  "benchmarks, so INVALID scores are expected here, not a fault:", highlight=False)
    for name, b in summary["benchmarks"].items():
        if not b["valid"]:
            console.print(f"  {name}: {plain_reason(b)}", highlight=False)
    console.print("Next, on a GPU server with vLLM (pip install -e '.[vllm,lmeval,tau2]'; README: On a GPU server "
                  "with vLLM):\n  harness run --suite common13 --model-config tasks/models/YOUR_MODEL.yaml "
                  "--judge openai:JUDGE@http://JUDGE_HOST:8000/v1 --user-sim openai:SIM@http://SIM_HOST:8000/v1",
                  highlight=False, soft_wrap=True, markup=False)  # markup would eat [vllm,...]


def _num(x, nd: int = 2) -> str:
    return "-" if x is None else f"{x:.{nd}f}"


def _ci(ci) -> str:
    return "-" if not ci else f"{ci[0]:.2f}–{ci[1]:.2f}"


def points_table(result: dict, console: Console) -> None:
    t = Table(title=f"{result['model']}: {result['scheme']} points", title_justify="left")
    for col in ("part", "points", "95% CI", "max", "how"):
        t.add_column(col, justify="right" if col in ("points", "95% CI", "max") else "left", overflow="fold")
    for name, p in result["parts"].items():
        how = p["formula"] + ("" if not p["missing"] else f"\n[yellow]missing: {'; '.join(p['missing'])}[/]")
        t.add_row(name, _num(p["points"]), _ci(p.get("ci95")), _num(p["max_points"], 0), how)
    t.add_row("[b]total[/]", f"[b]{_num(result['total'])}[/]", _ci(result.get("total_ci95")),
              _num(result["total_max"], 0),
              "" if result["complete"] else "[yellow]incomplete: parts are missing (named above), not counted as 0[/]")
    console.print(t)
    u = result.get("uncertainty")
    if u:
        console.print(f"95% CI: {u['method']}, seed {u['seed']}", highlight=False)
        for note in u["notes"]:
            console.print(f"  {note}", highlight=False)
    for v in result.get("versus") or []:
        if v.get("probability_higher") is None:
            console.print(f"vs {v['against']}: nothing to compare ({'; '.join(v['not_compared'])})", highlight=False)
            continue
        console.print(f"vs {v['against']} ({v['kind']}) over {', '.join(v['parts'])}: ours {v['ours']:.2f}, theirs "
                      f"{v['theirs']:.2f}; P(ours higher) = {v['probability_higher']:.3f} ({v['note']})"
                      + (f"; not compared: {'; '.join(v['not_compared'])}" if v["not_compared"] else ""),
                      highlight=False)


def compare_table(result: dict, console: Console) -> None:
    t = Table(title=f"{result['model']} vs {result['display_name']}", title_justify="left")
    for col in ("benchmark", "ours", "95% CI", "target", "diff", "ratio", "outside CI"):
        t.add_column(col, justify="left" if col == "benchmark" else "right")
    invalid = []
    for name, r in result["benchmarks"].items():
        ci = r.get("ci95")
        others = len(r.get("target_values") or []) > 1
        ours = _num(r["ours"])
        if r["ours"] is not None and not r.get("valid", True):  # as the Markdown and HTML reports strike it
            ours = f"[red][strike]{ours}[/strike] INVALID[/]"
            invalid.append(name)
        t.add_row(name, ours, "-" if not ci else f"{ci[0]:.1f}–{ci[1]:.1f}",
                  _num(r["target"]) + ("*" if others else ""), _num(r.get("difference")),
                  "-" if r.get("ratio") is None else f"{100 * r['ratio']:.1f}%",
                  {True: "yes", False: "no"}.get(r.get("outside_ci"), "-") if "difference" in r else r.get("note", ""))
    console.print(t)
    if invalid:
        console.print(f"INVALID: our score for {', '.join(invalid)} is not a valid result (see `harness summary`); "
                      "it is left out of the overall figure", highlight=False)
    if result["overall"]:
        console.print(f"overall: {result['overall']['formula']}")
    if result.get("pairing"):
        console.print(result["pairing"], highlight=False)
    if any(len(r.get("target_values") or []) > 1 for r in result["benchmarks"].values()):
        console.print("* sources disagree on this target score; the first listed is used (all are in the JSON)")


def paired_table(result: dict, console: Console) -> None:
    """`harness compare RUN_A RUN_B`: B − A per benchmark with its paired CI, test and flips. An invalid score is
    struck through and marked `!`, with its reason below the table."""
    from rich import box

    a, b = result["run_a"], result["run_b"]
    t = Table(title=f"B {b['model']} ({b['run_id']})  −  A {a['model']} ({a['run_id']}), paired on shared items",
              title_justify="left", box=box.SIMPLE_HEAD, padding=(0, 1))
    for col in ("benchmark", "n", "A", "B", "B − A", "95% CI", "p", "flips +/−"):
        # numbers never shrink to an ellipsis on a narrow terminal: the benchmark name wraps instead
        t.add_column(col, justify="left" if col == "benchmark" else "right", overflow="fold",
                     no_wrap=col != "benchmark")
    tests: dict[str, list[str]] = {}
    for name, r in result["benchmarks"].items():
        sa, sb = _num(r.get("score_a")), _num(r.get("score_b"))
        if not r.get("valid_a") and r.get("score_a") is not None:
            sa = f"[red][strike]{sa}[/strike]![/]"
        if not r.get("valid_b") and r.get("score_b") is not None:
            sb = f"[red][strike]{sb}[/strike]![/]"
        ci = r.get("ci95")
        if r.get("test"):
            tests.setdefault("McNemar's exact test" if r["test"].startswith("McNemar") else
                             "the paired bootstrap", []).append(name)
        t.add_row(name, str(r["n"]), sa, sb,
                  "-" if r.get("difference") is None else f"{r['difference']:+.2f}",
                  "-" if not ci else f"{ci[0]:+.2f}…{ci[1]:+.2f}",
                  "-" if r.get("p_value") is None else f"{r['p_value']:.3g}",
                  "-" if r.get("gained") is None else f"+{r['gained']}/−{r['lost']}")
    console.print(t)
    if tests:
        console.print("p: " + "; ".join(f"{k} ({', '.join(v)})" for k, v in tests.items()), highlight=False)
    console.print(f"A = {a['dir']}, B = {b['dir']}. n: samples scored in both runs; flips: samples whose score "
                  f"rose (+) / fell (−) from A to B. CI: paired bootstrap, {result['resamples']:,} resamples, seed "
                  f"{result['seed']}.", highlight=False)
    for name, r in result["benchmarks"].items():
        for x in ("a", "b"):
            if not r.get(f"valid_{x}"):
                console.print(f"  [red]{name}[/] run {x.upper()} INVALID (!): "
                              f"{r.get(f'invalid_reason_{x}') or 'no summary'}", highlight=False)
        left = [f"{r[k]} {w}" for k, w in (("only_a", "samples scored only in A"), ("only_b", "only in B"),
                                            ("left_out_a", "items of A with an error or no verdict"),
                                            ("left_out_b", "of B")) if r.get(k)]
        if left:
            console.print(f"  {name}: not paired: {', '.join(left)}", highlight=False)
    for name, why in result.get("not_compared", {}).items():
        console.print(f"  {name}: not compared ({why})", highlight=False)
    for note in result.get("notes", []):
        console.print(f"  note: {note}", highlight=False)
