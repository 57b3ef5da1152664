"""Points with their uncertainty: the bootstrap CI of a points total covers the true total about 95% of the time on
simulated runs; Student's t comes from scipy (the old table rounded degrees of freedom up); `harness points` on real
MMLU-Pro rows gives CIs with the seed recorded, reproducibly, and the probability of being ahead of a target or of
another team's run."""

from __future__ import annotations

import json
import math
from pathlib import Path
from statistics import stdev

import numpy as np
import pytest
from scipy import stats
from typer.testing import CliRunner

from conftest import SHARED_DATA, mmlu_ids
from harness.cli import app
from harness.config import Thresholds
from harness.scoring.points import Scheme, compute_points
from harness.scoring.stats import t975
from harness.scoring.uncertainty import points_uncertainty
from harness.summary import summarize_items

cli = CliRunner()
needs_shared = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason=f"real data not found at {SHARED_DATA}")

# a scheme with one part of each kind: a mean of three benchmarks, a target ratio, a number from outside
SCHEME = Scheme.model_validate({
    "name": "sim", "version": "1", "total_max": 40, "parts": [
        {"name": "common", "kind": "mean", "max_points": 20, "weight": 0.2, "benchmarks": ["b1", "b2", "b3"]},
        {"name": "individual", "kind": "target_ratio", "max_points": 10, "cap": 1.0, "points": 10},
        {"name": "nia", "kind": "input", "input": "nia", "max_points": 10, "weight": 0.1}]})
TEAM = {"individual": [{"benchmark": "b4", "target_score": {"value": 60.0}}], "individual_count": 1}
TRUE_P = {"b1": 0.72, "b2": 0.45, "b3": 0.6, "b4": 0.42}  # b4: 42 / 60 = 0.7 of the target, well below the cap
N_ITEMS = 120


def _true_total() -> float:
    common = 100 * np.mean([TRUE_P[b] for b in ("b1", "b2", "b3")]) * 0.2
    return common + min(100 * TRUE_P["b4"] / 60.0, 1.0) * 10 + 50 * 0.1


def test_points_ci_covers_the_true_total_about_95_percent_of_simulated_runs():
    sim = np.random.default_rng(7)
    runs, covered, part_covered = 1000, 0, 0
    true_common = 100 * np.mean([TRUE_P[b] for b in ("b1", "b2", "b3")]) * 0.2
    for k in range(runs):
        values = {b: dict(enumerate((sim.random(N_ITEMS) < p).astype(float))) for b, p in TRUE_P.items()}
        scores = {b: {"score": 100 * float(np.mean(list(v.values()))), "valid": True} for b, v in values.items()}
        result = compute_points(SCHEME, scores, TEAM, {"nia": 50.0})
        unc, _ = points_uncertainty(SCHEME, result, values, resamples=1000, seed=k)
        lo, hi = unc["total"]["ci95"]
        covered += lo <= _true_total() <= hi
        lo, hi = unc["parts"]["common"]["ci95"]
        part_covered += lo <= true_common <= hi
    # measured with these seeds: 948 (total) and 943 (common part) of 1,000
    assert 0.93 <= covered / runs <= 0.97, covered
    assert 0.93 <= part_covered / runs <= 0.97, part_covered


def test_points_ci_is_reproducible_from_its_seed_and_holds_fixed_inputs_fixed():
    sim = np.random.default_rng(1)
    values = {b: dict(enumerate((sim.random(N_ITEMS) < p).astype(float))) for b, p in TRUE_P.items()}
    scores = {b: {"score": 100 * float(np.mean(list(v.values()))), "valid": True} for b, v in values.items()}
    result = compute_points(SCHEME, scores, TEAM, {"nia": 50.0})
    one, _ = points_uncertainty(SCHEME, result, values, resamples=500, seed=3)
    two, _ = points_uncertainty(SCHEME, result, values, resamples=500, seed=3)
    other, _ = points_uncertainty(SCHEME, result, values, resamples=500, seed=4)
    assert one == two and one["total"] != other["total"] and one["seed"] == 3 and one["resamples"] == 500
    assert one["parts"]["nia"]["ci95"] == [5.0, 5.0] and any("nia" in n for n in one["notes"])
    lo, hi = one["total"]["ci95"]
    assert lo < result["total"] < hi


def test_t_interval_is_scipys_where_the_old_table_was_narrow():
    # 22 samples: df 21, which the old table rounded up to 25 (2.060 instead of 2.0796)
    assert t975(21) == stats.t.ppf(0.975, 21) and abs(t975(21) - 2.060) > 0.019
    vals = [1.0] * 13 + [0.0] * 9
    items = [{"sample_id": str(i), "repeat": 0, "score": v, "extracted": "A", "error": None, "finish_reason": "stop"}
             for i, v in enumerate(vals)]
    s = summarize_items(items, expected=22, repeats=1, thresholds=Thresholds())
    se = 100 * stdev(vals) / math.sqrt(22)
    h = stats.t.ppf(0.975, 21) * se
    assert s["ci95"] == [pytest.approx(s["score"] - h, abs=1e-4), pytest.approx(s["score"] + h, abs=1e-4)]
    assert s["ci95"][1] - s["ci95"][0] > 2 * 2.060 * se + 0.3  # wider than the old table gave, by ~0.4 points


def _run(tmp_path: Path, name: str, right) -> Path:
    rows = [{"sample_id": sid, "response": f"the answer is ({a if right(i) else ('A' if a != 'A' else 'B')})"}
            for i, (sid, a) in enumerate(mmlu_ids(60))]
    f = tmp_path / f"{name}.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    r = cli.invoke(app, ["score-responses", "--benchmark", "mmlu_pro", "--responses", str(f), "--out",
                         str(tmp_path / name), "--name", name])
    assert r.exit_code == 0, r.output
    return tmp_path / name


@needs_shared
def test_points_command_gives_cis_and_the_probability_of_being_ahead(tmp_path):
    ours = _run(tmp_path, "ours", lambda i: i % 5 != 0)  # 48 of 60 right: 80.0
    theirs = _run(tmp_path, "theirs", lambda i: i % 5 != 0 and i % 7 != 0)  # 7 fewer on the same samples
    args = ["points", "--results", str(ours), "--nia-score", "50", "--target", "qwen3-235b-a22b-thinking-2507",
            "--against", str(theirs)]
    r = cli.invoke(app, [*args, "--json", str(tmp_path / "p.json")], env={"COLUMNS": "200"})
    assert r.exit_code == 0, r.output
    p = json.loads((tmp_path / "p.json").read_text())
    assert p["parts"]["common"]["points"] == pytest.approx(80 * 0.2)
    lo, hi = p["parts"]["common"]["ci95"]
    assert lo < 16 < hi and hi - lo > 1.5  # 60 items: about ±10 score points, ±2 points of 20
    assert p["total_ci95"] == [pytest.approx(lo + 5), pytest.approx(hi + 5)]  # NIA 5 held fixed
    assert p["uncertainty"]["seed"] == 20260101 and p["uncertainty"]["resamples"] == 2000
    target, team = p["versus"]
    # Qwen3's published MMLU-Pro 84.4 → 16.88 points: 80 ± 10 is behind it more often than not, not surely
    assert target["parts"] == ["common"] and target["theirs"] == pytest.approx(16.88)
    assert 0.05 < target["probability_higher"] < 0.5
    # the other run is the same samples with 7 answers lost: paired, so ours is ahead in nearly every replicate
    assert team["paired"] == ["mmlu_pro"] and team["theirs"] == pytest.approx(100 * 41 / 60 * 0.2, abs=1e-3)
    assert team["probability_higher"] > 0.99
    assert "P(ours higher)" in r.output and "seed 20260101" in r.output

    r2 = cli.invoke(app, [*args, "--json", str(tmp_path / "p2.json")])
    assert r2.exit_code == 0 and json.loads((tmp_path / "p2.json").read_text())["versus"] == p["versus"]


def test_an_nia_score_from_a_run_is_resampled_within_its_areas(tmp_path):
    from conftest import FIXTURES

    # the NIA fixture's areas: math 2 of 2 right, knowledge 1 of 2, korean 1 of 1 → (100 + 50 + 100) / 3
    rows = [{"sample_id": "math-001", "response": "3+4=7\n정답: 7"}, {"sample_id": "math-002", "response": "정답: C"},
            {"sample_id": "know-001", "response": "정답: 서울특별시"}, {"sample_id": "know-002", "response": "정답: A"},
            {"sample_id": "kor-001", "response": "정답은 (B)입니다"}]
    f = tmp_path / "nia.jsonl"
    f.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    run = tmp_path / "nia"
    r = cli.invoke(app, ["score-responses", "--benchmark", "nia", "--responses", str(f), "--out", str(run),
                         "--data", str(FIXTURES / "nia")])
    assert r.exit_code == 0, r.output
    r = cli.invoke(app, ["points", "--results", str(run), "--nia", str(run), "--json", str(tmp_path / "p.json")])
    assert r.exit_code == 0, r.output
    p = json.loads((tmp_path / "p.json").read_text())
    nia = p["parts"]["nia"]
    assert nia["points"] == pytest.approx(25 / 3)
    # only knowledge varies: 0, 50 or 100 of its two items → NIA 66.7, 83.3 or 100 → 6.67 to 10 points
    assert nia["ci95"] == [pytest.approx(20 / 3, abs=1e-3), pytest.approx(10.0)]
    assert any("nia: from the run's items" in n for n in p["uncertainty"]["notes"])
    assert not any("held fixed" in n for n in p["uncertainty"]["notes"])
