"""Assemble a scorecard from run directories: merged scores, points under a scheme, comparison with a target."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.config import benchmark_names, load_benchmark_spec
from harness.errors import ConfigError, HarnessError
from harness.scoring import uncertainty as unc
from harness.scoring.points import compute_points, load_scheme
from harness.scoring.results import Scorecard, load_results
from harness.scoring.targets import compare, load_target
from harness.scoring.teams import load_team

# the points-scheme input (tasks/schemes/*.yaml, `kind: input`) that `--nia RUN_DIR` and `--nia-score X` supply.
# Which benchmark is the NIA benchmark is task data: the one whose task YAML says `points_input: nia`.
NIA_INPUT = "nia"


def scores_of(card: Scorecard) -> dict[str, dict]:
    return {name: r.summary for name, r in card.benchmarks.items()}


def input_benchmark(card: Scorecard, input_name: str) -> str:
    """The benchmark of these results whose task YAML declares `points_input: <input_name>`."""
    known = set(benchmark_names())
    found = [n for n in card.benchmarks if n in known and _points_input(n) == input_name]
    where = ", ".join(map(str, card.run_dirs))
    if not found:
        declared = [n for n in sorted(known) if _points_input(n) == input_name]
        raise ConfigError(f"no results of a benchmark that supplies `{input_name}` in {where} (benchmarks whose task "
                          f"YAML says `points_input: {input_name}`: {', '.join(declared) or 'none'}; results hold "
                          f"{', '.join(card.benchmarks) or 'nothing'})")
    if len(found) > 1:
        raise ConfigError(f"{where}: more than one benchmark supplies `{input_name}` ({', '.join(found)}); give the "
                          "run directory of one")
    return found[0]


def _points_input(name: str) -> str | None:
    try:
        return load_benchmark_spec(name).points_input
    except HarnessError:
        return None


def nia_from_run(dirs: list[Path]) -> dict[str, Any]:
    """The NIA score (weighted mean of area scores) of the NIA benchmark (`points_input: nia`) in run directories."""
    from harness.benchmarks.nia import nia_score

    card = load_results(dirs)
    name = input_benchmark(card, NIA_INPUT)
    r = card.benchmarks[name]
    if not r.valid:
        return {"value": None, "valid": False, "reason": r.summary.get("invalid_reason"), "benchmark": name,
                "run_dirs": r.run_dirs}
    weights = load_benchmark_spec(name).options.get("area_weights") or {}
    value, formula = nia_score(r.summary.get("categories") or {}, weights)
    return {"value": value, "valid": True, "formula": formula, "areas": r.summary.get("categories"),
            "benchmark": name, "run_dirs": r.run_dirs}


def points(results: list[Path], scheme: str, team: str | None = None, nia: list[Path] | None = None,
           nia_score: float | None = None, inputs: dict[str, float] | None = None, *, target: str | None = None,
           against: list[Path] | None = None, against_team: str | None = None, resamples: int = unc.RESAMPLES,
           seed: int = unc.SEED) -> dict[str, Any]:
    """Points with bootstrap CIs (harness.scoring.uncertainty); `target` (default: the team's) or `against` (another
    team's run directories, with `against_team` for its individual part): the probability our total is higher."""
    card = load_results(results)
    sch = load_scheme(scheme)
    team_data = load_team(team) if team else None
    given = dict(inputs or {})
    nia_info = None
    if nia_score is not None and nia:
        raise ConfigError("give --nia DIR or --nia-score X, not both")
    if nia_score is not None:
        given[NIA_INPUT] = nia_score
        nia_info = {"value": nia_score, "valid": True, "formula": "given with --nia-score"}
    elif nia:
        nia_info = nia_from_run(nia)
        if nia_info["value"] is not None:
            given[NIA_INPUT] = nia_info["value"]
    result = compute_points(sch, scores_of(card), team_data, given)
    if nia_info and nia_info["value"] is None:
        for part in sch.parts:
            if part.kind == "input" and part.input == NIA_INPUT:
                result["parts"][part.name]["missing"] = [f"{nia_info['benchmark']} (invalid: {nia_info['reason']})"]
    result.update(model=card.model, run_dirs=card.run_dirs, nia=nia_info,
                  team=(team_data or {}).get("team"), target=(team_data or {}).get("target"))
    nia_draws = None
    if nia and nia_info and nia_info["value"] is not None:  # the NIA score's own sampling uncertainty
        name = nia_info["benchmark"]
        nia_draws = {NIA_INPUT: unc.area_draws(load_results(nia).benchmarks[name].samples,
                                               load_benchmark_spec(name).options.get("area_weights"), resamples, seed)}
    draws = unc.attach(result, sch, card, resamples, seed, inputs=nia_draws)
    versus = []
    if target or (team_data or {}).get("target"):
        versus.append(unc.versus_target(result, sch, draws, load_target(target or team_data["target"])))
    if against:
        other_card = load_results(against)
        other = compute_points(sch, scores_of(other_card), load_team(against_team) if against_team else None, {})
        other.update(model=other_card.model, run_dirs=other_card.run_dirs)
        versus.append(unc.versus_run(result, sch, draws, card, other, other_card, resamples, seed))
    result["versus"] = versus
    return result


def comparison(results: list[Path], target: str) -> dict[str, Any]:
    card = load_results(results)
    out = compare(scores_of(card), load_target(target))
    out.update(model=card.model, run_dirs=card.run_dirs)
    return out
