"""Points schemes, targets, teams, NIA and the scorecard commands, on real run directories."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES, mmlu_ids, read_samples
from harness.cli import app
from harness.errors import ConfigError
from harness.scoring.points import compute_points, load_scheme
from harness.scoring.targets import common_mean, compare, load_target, table_scores, target_names, target_value
from harness.scoring.teams import load_team

cli = CliRunner()
COMMON13 = ["mmlu_pro", "gpqa_diamond", "hle", "aime2025", "livecodebench_v6", "tau2_telecom", "ifbench", "ifeval",
            "aa_lcr", "kmmlu_pro", "hrm8k", "click", "kobalt"]


def _as_scores(values: dict[str, float]) -> dict[str, dict]:
    return {k: {"score": v, "valid": True} for k, v in values.items()}


def test_stage1_common_points_from_k_exaone_readme_is_14_43():
    t = load_target("k-exaone-236b-a23b")
    scores = {b: target_value(t, b)[0] for b in COMMON13}
    r = compute_points(load_scheme("stage1"), _as_scores(scores))
    common = r["parts"]["common"]
    assert common["complete"] and common["value"] == pytest.approx(72.146, abs=1e-3)
    assert round(common["points"], 2) == 14.43
    assert "/ 13 = 72.1462; × 0.2 = 14.4292" in common["formula"]
    assert r["complete"] is False and "nia" in r["formula"]  # no team, no NIA: named, not zero


def test_stage1_common_points_from_lg_slide_average_is_14_41():
    slide = next(m for m in load_target("k-exaone-236b-a23b")["published_means"] if m["source"] == "lg-stage1-slides")
    assert slide["value"] == 72.03
    r = compute_points(load_scheme("stage1"), _as_scores({b: slide["value"] for b in COMMON13}))
    assert round(r["parts"]["common"]["points"], 2) == 14.41  # published: 14.4


def test_targets_keep_every_source_and_the_readme_means():
    means = {"k-exaone-236b-a23b": 72.15, "gpt-oss-120b": 69.46, "qwen3-235b-a22b-thinking-2507": 69.55}
    for name, expected in means.items():
        t = load_target(name)
        assert round(sum(target_value(t, b)[0] for b in COMMON13) / 13, 2) == expected
        assert round(common_mean(t, COMMON13), 4) == t["computed_mean_common13"]
        assert all(s.get("url") for s in t["sources"])
    ax = load_target("ax-k1")["scores"]["hle"]
    assert isinstance(ax, list) and {v["value"] for v in ax} == {8.6, 7.2}  # sources disagree: both kept
    assert len(target_names()) == 8


OLD, NEW = "lg-k-exaone-readme-9b3b682", "lg-k-exaone-readme-0718135"


def test_k_exaone_readme_versions_are_both_kept_with_their_means():
    """LG's README table changed after its first commit (9b3b682, 2025-12-31 → 0718135, 2026-01-02): both tables
    are kept, each with its commit and date, and the default is the current one."""
    t = load_target("k-exaone-236b-a23b")
    src = {s["id"]: s for s in t["sources"]}
    assert src[OLD]["commit"].startswith("9b3b682") and src[OLD]["date"] == "2025-12-31"
    assert src[NEW]["commit"].startswith("0718135") and src[NEW]["date"] == "2026-01-02"
    assert t["default_source"] == NEW
    assert round(common_mean(t, COMMON13, OLD), 2) == 72.13  # DESIGN.md's figure: the first table
    assert round(common_mean(t, COMMON13, NEW), 2) == 72.15
    assert round(common_mean(t, COMMON13), 2) == 72.15  # the default
    assert {k: round(v, 4) for k, v in t["computed_means_common13"].items()} == {NEW: 72.1462, OLD: 72.1308}
    first, current = table_scores(t, OLD), table_scores(t, NEW)
    assert set(first) == set(current) == set(COMMON13)
    changed = sorted(b for b in COMMON13 if first[b] != current[b])
    assert changed == sorted(["mmlu_pro", "gpqa_diamond", "hle", "aime2025", "livecodebench_v6", "tau2_telecom",
                              "ifbench", "ifeval", "hrm8k"])
    assert (first["tau2_telecom"], current["tau2_telecom"]) == (71.9, 73.5)
    # the value used, and the comparison with either table
    assert target_value(t, "gpqa_diamond")[0] == 79.1
    ours = {"gpqa_diamond": {"score": 80.0, "valid": True}}
    assert compare(ours, t)["benchmarks"]["gpqa_diamond"]["target"] == 79.1
    c = compare(ours, t, source=OLD)
    assert c["benchmarks"]["gpqa_diamond"]["target"] == 80.0 and c["target_source"] == OLD
    with pytest.raises(ConfigError, match="no source"):
        compare(ours, t, source="nope")


def test_every_cell_names_its_table_and_other_columns_did_not_change():
    for name in ("k-exaone-236b-a23b", "exaone-4.0-32b", "gpt-oss-120b", "qwen3-235b-a22b-thinking-2507",
                 "deepseek-v3.2"):
        t = load_target(name)
        for b, entry in {**t["scores"], **t["extra_scores"]}.items():
            for v in entry if isinstance(entry, list) else [entry]:
                assert v["source"] in (OLD, NEW), (name, b)
        if name != "k-exaone-236b-a23b":  # only K-EXAONE's column changed between the two README versions
            assert table_scores(t, OLD) == table_scores(t, NEW)
            assert t["computed_means_common13"][OLD] == t["computed_means_common13"][NEW]
        # rows added in 0718135 exist only in that table
        assert "imo_answerbench" not in table_scores(t, OLD, extra=True)


def test_qwen3_and_gpt_oss_cells_that_equal_the_vendors_published_values_say_so():
    qwen = load_target("qwen3-235b-a22b-thinking-2507")
    same = {b for b, v in {**qwen["scores"], **qwen["extra_scores"]}.items() if v.get("same_as_vendor")}
    assert same == {"mmlu_pro", "gpqa_diamond", "hle", "aime2025", "livecodebench_v6", "ifeval", "tau2_telecom",
                    "tau2_retail", "tau2_airline", "aa_lcr"}
    for b in same - {"aa_lcr"}:  # Qwen's card prints one decimal, as LG's table does
        v = {**qwen["scores"], **qwen["extra_scores"]}[b]
        assert v["same_as_vendor"]["source"] == "qwen3-thinking-2507-card" and v["same_as_vendor"]["value"] == v["value"]
    assert "Several cells carry the vendor's own published numbers" in qwen["notes"][0]
    oss = load_target("gpt-oss-120b")
    assert {b for b, v in oss["scores"].items() if v.get("same_as_vendor")} == {"gpqa_diamond", "aime2025", "hle"}
    assert not any("measured and reported by LG" in n for n in oss["notes"] + qwen["notes"])


def test_a_target_citing_an_unknown_source_or_default_is_rejected(tmp_path):
    bad = tmp_path / "t.yaml"
    bad.write_text("name: t\nsources: [{id: a, url: x}]\ndefault_source: b\nscores: {}\n")
    with pytest.raises(ConfigError, match="default_source 'b'"):
        load_target(str(bad))
    bad.write_text("name: t\nsources: [{id: a, url: x}]\nscores:\n  hle: {value: 1, source: a, also_in: [c]}\n")
    with pytest.raises(ConfigError, match="hle cites unknown source 'c'"):
        load_target(str(bad))


def test_individual_ratio_is_capped_and_missing_benchmarks_named(tmp_path):
    team = tmp_path / "team.yaml"
    team.write_text(
        "team: T\nmodel: M\ntarget: qwen3-235b-a22b-thinking-2507\nindividual_count: 5\nindividual:\n"
        "  - {benchmark: kmmlu_pro}\n  - {benchmark: hrm8k}\n"
        "  - {benchmark: textvqa, target_score: {value: 80.0, source: 'https://example.org/x'}}\n"
        "  - {benchmark: docvqa}\n")
    t = load_team(str(team))
    assert t["individual"][0]["target_score"]["value"] == 71.6  # taken from the target's published scores
    ours = _as_scores({"kmmlu_pro": 75.0, "hrm8k": 46.0, "textvqa": 60.0})
    r = compute_points(load_scheme("stage1"), ours, t)["parts"]["individual"]
    # min(75/71.6, 1) = 1; 46/92 = .5; 60/80 = .75 → mean .75 → 7.5 points
    assert r["value"] == pytest.approx(0.75) and r["points"] == pytest.approx(7.5)
    assert r["missing"] == ["docvqa (target score unknown)", "1 individual benchmark(s) not named in the team file"]


def test_individual_cap_per_benchmark_or_on_the_mean_is_a_field_of_the_scheme(tmp_path):
    """Stage 1 caps each B/A (today's reading, `cap_on: benchmark`); capping the mean instead gives more when one
    benchmark is above its target and another below. Both figures are always reported."""
    team = tmp_path / "team.yaml"
    team.write_text(
        "team: T\nmodel: M\ntarget: null\nindividual_count: 2\nindividual:\n"
        "  - {benchmark: kmmlu_pro, target_score: {value: 50.0, source: x}}\n"
        "  - {benchmark: hrm8k, target_score: {value: 80.0, source: x}}\n")
    ours = _as_scores({"kmmlu_pro": 75.0, "hrm8k": 60.0})  # B/A = 1.5 and 0.75
    stage1 = load_scheme("stage1")
    assert next(p for p in stage1.parts if p.name == "individual").cap_on == "benchmark"
    r = compute_points(stage1, ours, load_team(str(team)))["parts"]["individual"]
    assert r["cap_on"] == "benchmark"
    assert r["value_cap_per_benchmark"] == pytest.approx((1.0 + 0.75) / 2)  # 0.875
    assert r["value_cap_on_mean"] == pytest.approx(min((1.5 + 0.75) / 2, 1.0))  # 1.0
    assert r["value"] == pytest.approx(0.875) and r["points"] == pytest.approx(8.75)
    assert r["points_cap_on_mean"] == pytest.approx(10.0)
    assert r["formula"] == "(min(75/50, 1) + min(60/80, 1)) / 2 = 0.875; × 10 = 8.75"

    text = stage1.model_dump()
    text["parts"][1]["cap_on"] = "mean"
    import yaml

    on_mean = tmp_path / "stage1_mean.yaml"
    on_mean.write_text(yaml.safe_dump(text, allow_unicode=True))
    r = compute_points(load_scheme(str(on_mean)), ours, load_team(str(team)))["parts"]["individual"]
    assert r["value"] == pytest.approx(1.0) and r["points"] == pytest.approx(10.0)
    assert r["formula"] == "min((75/50 + 60/80) / 2, 1) = 1; × 10 = 10"
    assert r["value_cap_per_benchmark"] == pytest.approx(0.875)  # the other reading, beside it

    text["parts"][1]["cap_on"] = "both"
    on_mean.write_text(yaml.safe_dump(text, allow_unicode=True))
    with pytest.raises(ConfigError, match="cap_on"):
        load_scheme(str(on_mean))


def test_stage2_points_from_inputs():
    r = compute_points(load_scheme("stage2"), {}, None, {"aa_index": 60.0, "nia": 50.0})
    assert r["total"] == pytest.approx(60 * 0.25 + 50 * 0.15) and r["complete"]
    assert r["parts"]["aa_index"]["formula"] == "aa_index 60 × 0.25 = 15"


def test_scheme_whose_parts_do_not_add_up_is_rejected(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: bad\nversion: '1'\ntotal_max: 40\nparts:\n"
                   "  - {name: nia, kind: input, input: nia, max_points: 10, weight: 0.1}\n")
    with pytest.raises(ConfigError, match="do not add up to total_max 40"):
        load_scheme(str(bad))


def _score(tmp_path: Path, name: str, benchmark: str, rows: list[dict], extra: list[str] = ()) -> Path:
    f = tmp_path / f"{name}.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / name
    r = cli.invoke(app, ["score-responses", "--benchmark", benchmark, "--responses", str(f), "--out", str(out),
                         "--name", "our-model", *extra])
    assert r.exit_code in (0, 3), r.output  # scored (3: complete but flagged invalid, as some fixtures are)
    return out


def _wrong(letter: str) -> str:
    return "A" if letter != "A" else "B"


def test_points_and_compare_from_sharded_run_directories(tmp_path):
    ids = mmlu_ids(8)
    # two shards of MMLU-Pro: 3 of the first 4 right, 1 of the next 4 right → merged 4/8 = 50
    shard1 = _score(tmp_path, "s1", "mmlu_pro", [
        {"sample_id": sid, "response": f"the answer is ({a if i < 3 else _wrong(a)})"} for i, (sid, a) in enumerate(ids[:4])])
    shard2 = _score(tmp_path, "s2", "mmlu_pro", [
        {"sample_id": sid, "response": f"the answer is ({a if i == 0 else _wrong(a)})"} for i, (sid, a) in enumerate(ids[4:])])
    click = _score(tmp_path, "c", "click", [{"sample_id": "KIIP_economy_1", "response": "정답: C"}])
    r = cli.invoke(app, ["points", "--results", str(shard1), "--results", str(shard2), "--results", str(click),
                         "--scheme", "stage1", "--nia-score", "50", "--json", str(tmp_path / "p.json")])
    assert r.exit_code == 0, r.output
    p = json.loads((tmp_path / "p.json").read_text())
    common = p["parts"]["common"]
    assert common["inputs"] == {"mmlu_pro": 50.0, "click": 100.0}
    assert common["points"] == pytest.approx(75 * 0.2) and not common["complete"]
    assert "hle (no result)" in common["missing"] and len(common["missing"]) == 11
    assert p["parts"]["nia"]["points"] == 5.0 and p["total"] == pytest.approx(20.0) and not p["complete"]

    r = cli.invoke(app, ["compare", "--results", str(shard1), "--results", str(shard2), "--results", str(click),
                         "--target", "qwen3-235b-a22b-thinking-2507", "--json", str(tmp_path / "c.json")])
    assert r.exit_code == 0, r.output
    c = json.loads((tmp_path / "c.json").read_text())
    mmlu = c["benchmarks"]["mmlu_pro"]
    assert mmlu["target"] == 84.4 and mmlu["difference"] == pytest.approx(50 - 84.4)
    # 8 items: 50 ± t(7) × 18.9 = 50 ± 2.3646 × 18.898 = [5.31, 94.69] still holds 84.4: the gap is not significant
    assert mmlu["ci95"] == [pytest.approx(5.31, abs=0.01), pytest.approx(94.69, abs=0.01)]
    assert mmlu["outside_ci"] is False
    assert c["overall"]["percent_of_target"] == pytest.approx(100 * 75 / ((84.4 + 81.3) / 2))


def test_shards_of_different_settings_do_not_merge(tmp_path):
    ids = mmlu_ids(2)
    a = _score(tmp_path, "a", "mmlu_pro", [{"sample_id": ids[0][0], "response": "the answer is (A)"}])
    b = _score(tmp_path, "b", "mmlu_pro", [{"sample_id": ids[1][0], "response": "the answer is (A)"}])
    m = json.loads((b / "manifest.json").read_text())
    m["benchmarks"]["mmlu_pro"]["generation"]["max_tokens"] = 1
    (b / "manifest.json").write_text(json.dumps(m))
    r = cli.invoke(app, ["points", "--results", str(a), "--results", str(b)])
    assert r.exit_code == 2 and "differ in generation" in r.output


def test_nia_from_local_files_into_points(tmp_path):
    rows = [{"sample_id": "math-001", "response": "3+4=7\n정답: 7"},
            {"sample_id": "math-002", "response": "정답: C"},
            {"sample_id": "know-001", "response": "정답: 서울특별시"},
            {"sample_id": "know-002", "response": "정답: A"},
            {"sample_id": "kor-001", "response": "정답은 (B)입니다"}]
    run = _score(tmp_path, "nia", "nia", rows, ["--data", str(FIXTURES / "nia")])
    s = json.loads((run / "summary.json").read_text())["benchmarks"]["nia"]
    assert s["categories"] == {"knowledge": 50.0, "korean": 100.0, "math": 100.0}
    r = cli.invoke(app, ["points", "--results", str(run), "--nia", str(run), "--json", str(tmp_path / "p.json")])
    assert r.exit_code == 0, r.output
    nia = json.loads((tmp_path / "p.json").read_text())["parts"]["nia"]
    assert nia["value"] == pytest.approx(250 / 3) and nia["points"] == pytest.approx(25 / 3)

    # a judged item without a judge: an error with its response kept, and the NIA score is invalid, not lower
    run2 = _score(tmp_path, "nia2", "nia", rows + [{"sample_id": "safe-001", "response": "거절합니다."}],
                  ["--data", str(FIXTURES / "nia")])
    rec = [x for x in read_samples(run2) if x["sample_id"] == "safe-001"][0]
    assert rec["score"] is None and "need a judge: pass --judge" in rec["error"] and rec["response"] == "거절합니다."
    r = cli.invoke(app, ["points", "--results", str(run2), "--nia", str(run2), "--json", str(tmp_path / "p2.json")])
    nia = json.loads((tmp_path / "p2.json").read_text())["parts"]["nia"]
    assert nia["points"] is None and "error_rate" in nia["missing"][0]


def test_the_nia_benchmark_is_the_one_whose_task_yaml_says_so(tmp_path, monkeypatch):
    """The NIA benchmark is task data (`points_input: nia`), not a name in the scorecard code: under another name it
    still supplies the NIA score, and without the declaration no benchmark does."""
    import shutil

    import yaml

    tasks = tmp_path / "tasks"
    shutil.copytree(Path(__file__).resolve().parents[1] / "tasks", tasks)
    y = yaml.safe_load((tasks / "benchmarks" / "nia.yaml").read_text(encoding="utf-8"))
    assert y.pop("points_input") == "nia"
    (tasks / "benchmarks" / "nia.yaml").write_text(yaml.safe_dump(y, allow_unicode=True), encoding="utf-8")
    y.update(name="korean_private", points_input="nia")
    (tasks / "benchmarks" / "korean_private.yaml").write_text(yaml.safe_dump(y, allow_unicode=True), encoding="utf-8")
    monkeypatch.setenv("HARNESS_TASKS_DIR", str(tasks))
    rows = [{"sample_id": "math-001", "response": "정답: 7"}, {"sample_id": "know-001", "response": "정답: 부산"}]
    run = _score(tmp_path, "kp", "korean_private", rows, ["--data", str(FIXTURES / "nia")])
    plain = _score(tmp_path, "plain", "nia", rows, ["--data", str(FIXTURES / "nia")])
    r = cli.invoke(app, ["points", "--results", str(run), "--nia", str(run), "--json", str(tmp_path / "p.json")])
    assert r.exit_code == 0, r.output
    p = json.loads((tmp_path / "p.json").read_text())
    assert p["nia"]["benchmark"] == "korean_private" and p["nia"]["value"] == pytest.approx(50.0)
    assert p["parts"]["nia"]["points"] == pytest.approx(5.0)
    # `nia` no longer declares it: its results supply no NIA score, and the error says what would
    r = cli.invoke(app, ["points", "--results", str(plain), "--nia", str(plain)])
    assert r.exit_code == 2
    assert "no results of a benchmark that supplies `nia`" in r.output and "points_input: nia`: korean_private" in r.output


def test_nia_judged_items_go_to_the_judge(tmp_path, scripted_server):
    rules = [{"match": "CANDIDATE ANSWER: 거절합니다.", "reply": "CORRECT"},
             {"match": "CANDIDATE ANSWER: 방법은", "reply": "INCORRECT"}]
    (tmp_path / "j.json").write_text(json.dumps(rules, ensure_ascii=False))
    with scripted_server("--reply-file", str(tmp_path / "j.json"), model="judge-m") as judge:
        for name, reply, want in (("ok", "거절합니다.", 1.0), ("bad", "방법은 다음과 같습니다", 0.0)):
            run = _score(tmp_path, name, "nia", [{"sample_id": "safe-001", "response": reply}],
                         ["--data", str(FIXTURES / "nia"), "--judge", f"openai:judge-m@{judge.base_url}"])
            rec = read_samples(run)[0]
            assert rec["score"] == want and rec["details"]["verdict"] == ("CORRECT" if want else "INCORRECT")
            assert rec["category"] == "safety"


def test_malformed_nia_item_is_named(tmp_path):
    d = tmp_path / "nia"
    d.mkdir()
    (d / "set.jsonl").write_text(json.dumps({"id": "x1", "area": "sports", "type": "mcq", "question": "q",
                                             "choices": ["a", "b"], "answer": "A"}) + "\n")
    f = tmp_path / "r.jsonl"
    f.write_text(json.dumps({"sample_id": "x1", "response": "A"}) + "\n")
    r = cli.invoke(app, ["score-responses", "--benchmark", "nia", "--data", str(d), "--responses", str(f),
                         "--out", str(tmp_path / "o")])
    assert r.exit_code == 2 and "set.jsonl item x1: area 'sports' is not one of" in r.output


def test_protocol_stage1_runs_every_benchmark_five_times(tmp_path):
    rows = [{"sample_id": str(i), "repeat": r, "response": "\\boxed{70}" if i == 0 else "\\boxed{1}"}
            for i in range(2) for r in range(5)]
    f = tmp_path / "r.jsonl"
    f.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "run"
    r = cli.invoke(app, ["run", "--benchmarks", "aime2025", "--engine", "replay", "--responses", str(f),
                         "--protocol", "stage1", "--limit", "2", "--no-progress", "--out", str(out)])
    assert r.exit_code == 0, r.output
    b = json.loads((out / "summary.json").read_text())["benchmarks"]["aime2025"]
    assert b["repeats"] == 5 and b["items"] == 10 and b["repeat_scores"] == [50.0] * 5
    r = cli.invoke(app, ["run", "--benchmarks", "aime2025", "--engine", "replay", "--responses", str(f),
                         "--protocol", "stage1", "--repeats", "3"])
    assert r.exit_code == 2 and "runs every benchmark 5 times" in r.output
