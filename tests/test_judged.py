"""LLM-judged benchmarks (HLE text-only, AA-LCR) with judges as engines: scripted judge servers for exact checks, a
real small model as a judge, the judge cache, context overflow and judge agreement."""

from __future__ import annotations

import json
import random

import pytest
from typer.testing import CliRunner

from conftest import FIXTURES, SERVE, read_samples, run_benchmarks
from harness.benchmarks.hle import calibration_error
from harness.cli import app
from harness.config import GenerationParams, ModelSpec
from harness.responses import cohen_kappa

cli = CliRunner()
HLE = ["--data", str(FIXTURES / "hle")]


def _rules(path, rules):
    path.write_text(json.dumps(rules))
    return str(path)


def _responses(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


# the judged model's answers to the fixture questions, keyed by item id suffix
ANSWERS = {
    "6700a0000000000000000001": "Explanation: 101 is prime.\nExact Answer: 101\nConfidence: 90%",
    "6700a0000000000000000002": "Explanation: oxygen is vital.\nAnswer: A\nConfidence: 70%",
    "6700a0000000000000000003": "Explanation: count them.\nExact Answer: 12\nConfidence: 100%",
    "6700a0000000000000000005": "Explanation: I am not sure.\nExact Answer: 1443\nConfidence: 30%",
}
JUDGE_RULES = [
    {"match": "Exact Answer: 101", "reply": "extracted_final_answer: 101\nreasoning: same\ncorrect: yes\nconfidence: 90"},
    {"match": "Answer: A\n", "reply": '{"extracted_final_answer": "A", "reasoning": "B is right", "correct": "no", '
                                      '"confidence": 70}'},
    {"match": "Exact Answer: 12", "reply": "**extracted_final_answer:** 12\n**correct:** yes\n**confidence:** 100"},
    {"match": "Exact Answer: 1443", "reply": "I think the answer might be close enough, hard to say."},
]


def test_hle_text_only_judged_end_to_end(tmp_path, scripted_server):
    model_rules = [{"match": q_id_text, "reply": ans} for q_id_text, ans in (
        ("smallest prime", ANSWERS["6700a0000000000000000001"]), ("gas makes up", ANSWERS["6700a0000000000000000002"]),
        ("edges does a cube", ANSWERS["6700a0000000000000000003"]), ("Hangul", ANSWERS["6700a0000000000000000005"]))]
    with scripted_server("--reply-file", _rules(tmp_path / "m.json", model_rules)) as model, \
            scripted_server("--reply-file", _rules(tmp_path / "j.json", JUDGE_RULES), model="judge-m") as judge:
        out = tmp_path / "run"
        r = cli.invoke(app, ["run", "--benchmarks", "hle", "--data", f"hle={FIXTURES / 'hle'}", "--engine", "openai", "--model", model.model,
                             "--base-url", model.base_url, "--judge", f"openai:judge-m@{judge.base_url}",
                             "--no-progress", "--out", str(out)])
    assert r.exit_code == 3, r.output  # one unreadable verdict in four: flagged invalid
    recs = {x["sample_id"]: x for x in read_samples(out)}
    assert set(recs) == set(ANSWERS)  # the item with an image is excluded
    assert recs["6700a0000000000000000001"]["score"] == 1.0 and recs["6700a0000000000000000001"]["extracted"] == "101"
    assert recs["6700a0000000000000000002"]["score"] == 0.0  # JSON verdict
    assert recs["6700a0000000000000000003"]["details"]["confidence"] == 100.0  # markdown-bold verdict
    bad = recs["6700a0000000000000000005"]
    assert bad["score"] is None and bad["error_kind"] == "scorer" and "unparseable" in bad["error"]
    b = json.loads((out / "summary.json").read_text())["benchmarks"]["hle"]
    assert b["score"] == pytest.approx(200 / 3, abs=1e-3) and b["n"] == 3  # the judge failure is not a wrong answer
    assert b["error_rate"] == 0.25 and not b["valid"]
    assert b["metrics"]["judged"] == 3 and b["metrics"]["calibration_error"] is None  # < 200 items
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["roles"]["judge"]["model"] == "judge-m"
    assert manifest["roles"]["judge"]["inner"]["base_url"] == judge.base_url
    # every answered judge call is cached, the unparseable verdict too (asking again at temperature 0 repeats it)
    assert len((out / "judge_cache.jsonl").read_text().splitlines()) == 4


def test_rescoring_with_a_cached_judge_makes_no_judge_calls(tmp_path, scripted_server):
    rows = [{"sample_id": k, "response": v} for k, v in ANSWERS.items() if not k.endswith("5")]
    f = _responses(tmp_path / "r.jsonl", rows)
    cache = tmp_path / "judge.jsonl"
    with scripted_server("--reply-file", _rules(tmp_path / "j.json", JUDGE_RULES), model="judge-m") as judge:
        r = cli.invoke(app, ["score-responses", "--benchmark", "hle", "--responses", str(f), "--out",
                             str(tmp_path / "a"), *HLE, "--judge", f"openai:judge-m@{judge.base_url}",
                             "--judge-cache", str(cache)])
        assert r.exit_code == 0, r.output
        url = judge.base_url
    # the judge server is gone now: only the cache can answer
    r = cli.invoke(app, ["score-responses", "--benchmark", "hle", "--responses", str(f), "--out", str(tmp_path / "b"),
                         *HLE, "--judge", f"openai:judge-m@{url}", "--judge-cache", str(cache)])
    assert r.exit_code == 0, r.output
    a = {x["sample_id"]: x["score"] for x in read_samples(tmp_path / "a")}
    b = read_samples(tmp_path / "b")
    assert {x["sample_id"]: x["score"] for x in b} == a == {
        "6700a0000000000000000001": 1.0, "6700a0000000000000000002": 0.0, "6700a0000000000000000003": 1.0}
    assert all(x["details"]["judge_cached"] for x in b)
    roles = json.loads((tmp_path / "b" / "manifest.json").read_text())["roles"]["judge"]
    assert roles["cache_misses"] == 0


def test_judged_benchmark_without_judge_is_refused():
    r = cli.invoke(app, ["run", "--benchmarks", "hle", "--data", f"hle={FIXTURES / 'hle'}", "--engine", "replay",
                         "--responses", "x.jsonl"])
    assert r.exit_code == 2 and "hle needs --judge" in r.output


def test_tiny_real_model_as_judge_gives_unparseable_verdicts_counted_as_judge_errors(tmp_path):
    """SmolLM2-135M behind a real server started by the vllm launcher, judging HLE: it cannot follow the verdict
    format, and every such verdict is a judge error, none a wrong answer."""
    rows = [{"sample_id": k, "response": v} for k, v in ANSWERS.items()]
    f = _responses(tmp_path / "r.jsonl", rows)
    judge_yaml = tmp_path / "judge.yaml"
    judge_yaml.write_text(json.dumps({"engine": "vllm", "model": "smollm2-135m", "executable": SERVE,
                                      "startup_timeout": 300}))
    bench = tmp_path / "tasks"
    # keep the tiny judge short: same task, judge max_tokens lowered through a copied task dir
    import shutil

    from harness.config import tasks_dir
    shutil.copytree(tasks_dir(), bench)
    y = (bench / "benchmarks" / "hle.yaml").read_text().replace("    max_tokens: 4096", "    max_tokens: 48")
    (bench / "benchmarks" / "hle.yaml").write_text(y)
    env = {"HARNESS_TASKS_DIR": str(bench)}
    r = cli.invoke(app, ["score-responses", "--benchmark", "hle", "--responses", str(f), "--out", str(tmp_path / "o"),
                         *HLE, "--judge", str(judge_yaml)], env=env)
    assert r.exit_code == 3, r.output  # every verdict unreadable: complete, flagged invalid
    recs = read_samples(tmp_path / "o")
    assert len(recs) == 4
    judged_errors = [x for x in recs if x["error_kind"] == "scorer"]
    assert judged_errors and all("unparseable" in x["error"] for x in judged_errors)
    assert all(x["score"] in (0.0, 1.0) for x in recs if x["error"] is None)
    b = json.loads((tmp_path / "o" / "summary.json").read_text())["benchmarks"]["hle"]
    assert b["error_rate"] == pytest.approx(len(judged_errors) / 4)
    assert (tmp_path / "o" / "judge-server.log").exists()


def test_aa_lcr_equality_judge_and_context_overflow(tmp_path, scripted_server):
    judge_rules = [{"match": "CANDIDATE ANSWER TO ASSESS: right", "reply": "CORRECT"},
                   {"match": "CANDIDATE ANSWER TO ASSESS: wrong", "reply": "**INCORRECT**"},
                   {"match": "CANDIDATE ANSWER TO ASSESS: vague", "reply": "It is partially correct."}]
    gen = GenerationParams(max_tokens=100)
    with scripted_server("--reply-file", _rules(tmp_path / "j.json", judge_rules), model="judge-m") as judge:
        # a server whose context is far too small: nothing may be sent to it (it would die on the first request)
        with scripted_server("--max-model-len", "2000", "--die-after", "0") as small:
            spec = ModelSpec(engine="openai", model=small.model, base_url=small.base_url)
            from harness.responses import judge_engine

            roles = {"judge": judge_engine(f"openai:judge-m@{judge.base_url}", tmp_path / "c.jsonl")}
            out = tmp_path / "small"
            s = run_benchmarks(spec, out, benchmarks=("aa_lcr",), limit=3, generation=gen, roles=roles,
                               max_consecutive_errors=100)
        recs = read_samples(out)
        assert len(recs) == 3 and all(x["error_kind"] == "context" for x in recs)
        assert "context overflow: the prompt is" in recs[0]["error"] and "maximum context of 2000" in recs[0]["error"]
        assert all(x["prompt_tokens"] > 2000 for x in recs)
        assert s["benchmarks"]["aa_lcr"]["error_rate"] == 1.0

        # judged: right / wrong / unparseable verdicts through a model server that fits the documents
        f = _responses(tmp_path / "r.jsonl", [{"sample_id": "0", "response": "right"},
                                              {"sample_id": "1", "response": "wrong"},
                                              {"sample_id": "2", "response": "vague"},
                                              {"sample_id": "3", "response": ""}])
        r = cli.invoke(app, ["score-responses", "--benchmark", "aa_lcr", "--responses", str(f), "--out",
                             str(tmp_path / "judged"), "--judge", f"openai:judge-m@{judge.base_url}"])
    assert r.exit_code == 3, r.output  # one judge error in 4 items: flagged invalid
    recs = {x["sample_id"]: x for x in read_samples(tmp_path / "judged")}
    assert recs["0"]["score"] == 1.0 and recs["1"]["score"] == 0.0
    assert recs["2"]["error_kind"] == "scorer" and recs["2"]["score"] is None
    assert recs["3"]["score"] == 0.0 and recs["3"]["extracted"] is None  # empty answer: unparsed, no judge call


def test_judge_agreement_percent_and_kappa(tmp_path, scripted_server):
    rows = [{"sample_id": str(i), "response": f"answer-{i}"} for i in range(8)]
    f = _responses(tmp_path / "r.jsonl", rows)
    # judge A: items 0-3 correct; judge B: items 0-1 and 4 correct → agree on 0,1,5,6,7 (5 of 8)
    a = [{"match": f"CANDIDATE ANSWER TO ASSESS: answer-{i}", "reply": "CORRECT" if i < 4 else "INCORRECT"}
         for i in range(8)]
    b = [{"match": f"CANDIDATE ANSWER TO ASSESS: answer-{i}", "reply": "CORRECT" if i in (0, 1, 4) else "INCORRECT"}
         for i in range(8)]
    with scripted_server("--reply-file", _rules(tmp_path / "a.json", a), model="judge-a") as ja, \
            scripted_server("--reply-file", _rules(tmp_path / "b.json", b), model="judge-b") as jb:
        r = cli.invoke(app, ["judge-agreement", "--benchmark", "aa_lcr", "--responses", str(f),
                             "--judge", f"openai:judge-a@{ja.base_url}", "--judge-b", f"openai:judge-b@{jb.base_url}",
                             "--out", str(tmp_path / "agree")])
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "agree" / "agreement.json").read_text())
    assert res["items"] == 8 and res["agreement"] == pytest.approx(62.5)
    # po = 5/8; pa = 4/8, pb = 3/8 → pe = .5*.375 + .5*.625 = .5 → kappa = (.625-.5)/.5 = .25
    assert res["cohen_kappa"] == pytest.approx(0.25)
    assert sorted(d["sample_id"] for d in res["disagreements"]) == ["2", "3", "4"]
    assert "Cohen's kappa 0.250" in r.output


def test_cohen_kappa_and_calibration_error_reference_values():
    assert cohen_kappa([1, 1, 0, 0], [1, 1, 0, 0]) == 1.0
    assert cohen_kappa([1, 0, 1, 0], [0, 1, 0, 1]) == -1.0
    # 300 items: bins [0,100), [100,200), [200,300); the last is left out as in the official code
    conf = [0.2] * 100 + [0.5] * 100 + [0.9] * 100
    corr = [1.0] * 20 + [0.0] * 80 + [1.0] * 80 + [0.0] * 20 + [0.0] * 100
    # bin 1: |.2-.2| = 0; bin 2: |.5-.8| = .3 → sqrt(100/300 * .09) = .1732
    assert calibration_error(conf, corr) == pytest.approx(17.32, abs=0.01)
    rng = random.Random(0)
    idx = list(range(300))
    rng.shuffle(idx)  # order of input does not matter
    assert calibration_error([conf[i] for i in idx], [corr[i] for i in idx]) == pytest.approx(17.32, abs=0.01)
    assert calibration_error(conf[:150], corr[:150]) is None
