"""Team files that run: `harness run --team` runs a team's individual benchmarks against a real local server
(harness.serve), names the ones the harness cannot run, and `harness points --team` computes the individual part
from that run: min(B/A, 1) per benchmark (stage 1, `cap_on: benchmark`), averaged over the present ones, the
missing ones named with the reason, never counted as zero."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from harness.cli import app
from harness.errors import ConfigError
from harness.scoring.teams import load_team, runnable_reason

cli = CliRunner()
# target scores for the arithmetic of this test (the team file is the test's own; no real team's numbers)
TARGETS = {"mmlu_pro": 80.0, "click": 40.0, "kobalt": 50.0, "aime2025": 20.0, "vqa_private_ko": 70.0}
SOURCE = "tests/test_teams.py (a made-up team for the arithmetic)"


def team_file(path: Path, benchmarks: dict[str, float]) -> Path:
    lines = ["team: Test Team", "model: scripted-model", "target: null", "individual_count: 5", "individual:"]
    for b, v in benchmarks.items():
        lines.append(f"  - {{benchmark: {b}, chosen_by: ministry, target_score: {{value: {v}, source: '{SOURCE}'}}}}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_run_team_then_points_team_over_the_present_benchmarks(tmp_path, scripted_server):
    team = team_file(tmp_path / "team.yaml", TARGETS)
    out = tmp_path / "run"
    with scripted_server("--reply", "The answer is (A). 정답은 A입니다. \\boxed{70}") as srv:
        r = cli.invoke(app, ["run", "--team", str(team), "--engine", "openai", "--base-url", srv.base_url,
                             "--model", srv.model, "--limit", "3", "--max-tokens", "64", "--max-unparsed-rate", "1",
                             "--no-progress", "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "not run: vqa_private_ko (not a benchmark of this harness" in r.output
    summary = json.loads((out / "summary.json").read_text())["benchmarks"]
    assert sorted(summary) == ["aime2025", "click", "kobalt", "mmlu_pro"]  # the team's, and only the runnable ones

    r = cli.invoke(app, ["points", "--results", str(out), "--team", str(team), "--json", str(tmp_path / "p.json")])
    assert r.exit_code == 0, r.output
    part = json.loads((tmp_path / "p.json").read_text())["parts"]["individual"]
    ratios = {b: min(summary[b]["score"] / TARGETS[b], 1.0) for b in summary}
    assert {b: v["ratio"] for b, v in part["inputs"].items()} == pytest.approx(ratios)
    assert part["value"] == pytest.approx(sum(ratios.values()) / 4)  # over the four present, not five
    assert part["points"] == pytest.approx(10 * sum(ratios.values()) / 4)
    assert part["missing"] == ["vqa_private_ko (no result: the harness cannot run it: not a benchmark of this "
                               "harness (`harness list`), nor an lm-eval or lmms-eval task (lmeval:<task>, "
                               "lmms:<task>))"]
    assert part["complete"] is False
    assert any(v > 0 for v in ratios.values())  # the arithmetic is exercised on real non-zero scores

    # a runnable benchmark whose data is not here (textvqa: nothing local, the hub offline) is named and left out;
    # the others still run
    with_vqa = team_file(tmp_path / "vqa.yaml", {"textvqa": 70.0, "mmlu_pro": 80.0})
    with scripted_server("--reply", "The answer is (A).") as srv:
        r = cli.invoke(app, ["run", "--team", str(with_vqa), "--engine", "openai", "--base-url", srv.base_url,
                             "--model", srv.model, "--limit", "2", "--max-tokens", "16", "--max-unparsed-rate", "1",
                             "--no-progress", "--out", str(tmp_path / "vqa-run")])
    assert r.exit_code == 0, r.output
    assert "not run: textvqa:" in r.output
    assert sorted(json.loads((tmp_path / "vqa-run" / "summary.json").read_text())["benchmarks"]) == ["mmlu_pro"]

    # the same run read for a team whose fifth benchmark is runnable but was not run: named as having no result
    other = team_file(tmp_path / "other.yaml", {**{b: TARGETS[b] for b in summary}, "ifeval": 85.0})
    r = cli.invoke(app, ["points", "--results", str(out), "--team", str(other), "--json", str(tmp_path / "q.json")])
    part = json.loads((tmp_path / "q.json").read_text())["parts"]["individual"]
    assert part["missing"] == ["ifeval (no result)"] and part["value"] == pytest.approx(sum(ratios.values()) / 4)


def test_team_files_say_what_cannot_run_and_refuse_unsourced_numbers(tmp_path):
    assert runnable_reason("mmlu_pro") is None
    assert "not a benchmark of this harness" in runnable_reason("chartqa_ko")
    bad = tmp_path / "bad.yaml"
    bad.write_text("team: T\nmodel: M\ntarget: null\nindividual:\n  - {benchmark: click, target_score: {value: 50}}\n")
    with pytest.raises(ConfigError, match="click: target_score needs a value and its source"):
        load_team(str(bad))
    nothing = team_file(tmp_path / "none.yaml", {"vqa_private_ko": 70.0})
    r = cli.invoke(app, ["run", "--team", str(nothing), "--engine", "openai", "--base-url", "http://127.0.0.1:9/v1",
                         "--model", "m"])
    assert r.exit_code == 2 and "none of its individual benchmarks can be run here" in r.output
    r = cli.invoke(app, ["run", "--team", "naver", "--suite", "common13"])
    assert r.exit_code == 2 and "give one of --suite, --benchmarks or --team" in r.output
    # every shipped team file loads, and every target number in it has a source
    for name in ("lg", "naver"):
        for item in load_team(name)["individual"]:
            ts = item.get("target_score")
            assert ts is None or (ts["value"] is not None and ts["source"])
