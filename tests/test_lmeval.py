"""lm-eval tasks through the harness: real lm-eval tasks on local data, offline, through the hf engine (the embedded
SmolLM2 and a tiny random Llama) and through a real local chat server; stored like a native benchmark."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import mean

import pytest

from conftest import FIXTURES

from harness.config import ModelSpec
from harness.errors import ConfigError, DataError
from harness.lmeval import plan_lmeval, run_lmeval
from harness.lmeval.bridge import save_to_run

LMEVAL_DATA = FIXTURES / "lmeval"
BOOLQ = LMEVAL_DATA / "skt" / "kobest_v1" / "boolq"  # the split files themselves (a --data DIR)


def tiny_llama(path: Path) -> Path:
    """A 2-layer random Llama with a byte-level BPE tokenizer trained here: for plumbing, not for scores."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    text = [line for f in sorted(LMEVAL_DATA.rglob("*.jsonl")) for line in f.read_text().splitlines()]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.train_from_iterator(text, trainers.BpeTrainer(vocab_size=400, special_tokens=["<unk>", "<s>", "</s>"],
                                                      initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, bos_token="<s>", eos_token="</s>", unk_token="<unk>")
    fast.save_pretrained(path)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=len(fast), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=1024,
                      bos_token_id=fast.bos_token_id, eos_token_id=fast.eos_token_id)
    LlamaForCausalLM(cfg).save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory) -> Path:
    return tiny_llama(tmp_path_factory.mktemp("tiny-llama"))


def test_kobest_boolq_end_to_end_on_the_embedded_model(tmp_path):
    """A real lm-eval task (multiple choice, loglikelihood) on local data in the upstream schema, the embedded
    SmolLM2 GGUF through lm-eval's hf model, stored in a run directory that validates and compares."""
    spec = ModelSpec(engine="hf")
    plan = plan_lmeval("lmeval:kobest_boolq", data_override=BOOLQ)
    result = run_lmeval(plan, spec, None, tmp_path / "run")
    s, recs, m = result.summary, result.records, result.manifest

    rows = [json.loads(line) for line in (BOOLQ / "test.jsonl").read_text().splitlines()]
    assert len(recs) == s["n"] == s["items"] == len(rows) == 6
    for rec, row in zip(sorted(recs, key=lambda r: int(r["sample_id"])), rows):
        lls = rec["details"]["loglikelihoods"]
        assert len(lls) == 2 and rec["extracted"] == ["아니오", "예"][lls.index(max(lls))]
        assert rec["target"] == ["아니오", "예"][row["label"]]
        assert rec["score"] == float(rec["extracted"] == rec["target"])  # lm-eval's acc, per document
    assert s["score"] == round(100 * mean(r["score"] for r in recs), 4)
    assert s["score"] == round(100 * result.results["results"]["kobest_boolq"]["acc,none"], 4)
    assert s["valid"] and s["metric"] == "lm-eval acc,none" and s["stderr"] is not None

    assert m["lm_eval"]["version"] == "0.4.13" and m["version"] == "1.0"
    assert len(m["task_sha256"]) == 64 and m["lm_eval"]["subtasks"]["kobest_boolq"]["output_type"] == \
        "multiple_choice"
    assert m["data"]["kind"] == "local" and m["data"]["datasets"][0]["id"] == "skt/kobest_v1"
    assert m["data"]["datasets"][0]["splits"] == {"test": 6}
    assert m["lm_eval"]["model"] == "hf" and m["lm_eval"]["model_args"]["gguf_file"].endswith(".gguf")

    run = tmp_path / "run"
    save_to_run(run, spec, result)
    from harness.schemas import validate_run_dir
    from harness.scorecard import comparison

    assert validate_run_dir(run) == []
    target = tmp_path / "target.yaml"
    target.write_text("name: t\nsources: [{id: s, title: test}]\nscores:\n"
                      "  lmeval:kobest_boolq: {value: 50.0, source: s}\n")
    row = comparison([run], str(target))["benchmarks"]["lmeval:kobest_boolq"]
    assert row["ours"] == s["score"] and row["difference"] == s["score"] - 50.0
    assert (run / "lmeval" / "kobest_boolq" / "results.json").exists()  # lm-eval's own output, kept for audit


def test_kmmlu_generation_task_through_a_local_chat_server(tmp_path, scripted_server):
    """A generate_until task through lm-eval's local-chat-completions against a real server on 127.0.0.1, data
    found under a data dir's lmeval/<hub id>/<config>/ layout."""
    rules = [{"match": "자산에서 부채를", "reply": "A"}, {"match": "재무상태표가", "reply": "B"},
             {"match": "감가상각", "reply": "C"}, {"match": "매출원가", "reply": "정답은 A"}]
    (tmp_path / "rules.json").write_text(json.dumps(rules, ensure_ascii=False))
    plan = plan_lmeval("lmeval:kmmlu_direct_accounting", data_dirs=[FIXTURES])
    with scripted_server("--reply-file", str(tmp_path / "rules.json")) as srv:
        spec = ModelSpec(engine="openai", model=srv.model, base_url=srv.base_url)
        result = run_lmeval(plan, spec, srv.base_url, tmp_path / "run")
    recs = {r["sample_id"]: r for r in result.records}
    assert [(recs[k]["target"], recs[k]["response"], recs[k]["score"]) for k in "0123"] == [
        ("A", "A", 1.0), ("B", "B", 1.0), ("D", "C", 0.0), ("A", "정답은 A", 0.0)]
    assert result.summary["score"] == 50.0 and result.summary["metric"] == "lm-eval exact_match,none"
    assert result.manifest["lm_eval"]["model"] == "local-chat-completions"
    assert result.manifest["lm_eval"]["apply_chat_template"] is True
    assert result.manifest["data"]["datasets"][0]["path"].endswith("HAERAE-HUB/KMMLU/Accounting")


def test_lmeval_makes_the_attempts_the_harness_would(tmp_path, scripted_server):
    """--max-retries 2 means three attempts, in lm-eval too (its `max_retries` counts attempts: tenacity
    stop_after_attempt in lm_eval/models/api_models.py, 0.4.13): every request failing twice still finishes."""
    rules = [{"match": "자산에서 부채를", "reply": "A"}, {"match": "재무상태표가", "reply": "B"},
             {"match": "감가상각", "reply": "C"}, {"match": "매출원가", "reply": "정답은 A"}]
    (tmp_path / "rules.json").write_text(json.dumps(rules, ensure_ascii=False))
    plan = plan_lmeval("lmeval:kmmlu_direct_accounting", data_dirs=[FIXTURES])
    with scripted_server("--reply-file", str(tmp_path / "rules.json"), "--fail-first", "8") as srv:
        spec = ModelSpec(engine="openai", model=srv.model, base_url=srv.base_url, max_retries=2, request_timeout=30)
        result = run_lmeval(plan, spec, srv.base_url, tmp_path / "run")
    assert result.summary["score"] == 50.0
    assert result.manifest["lm_eval"]["model_args"]["max_retries"] == 3


def test_group_task_with_subtask_scores_on_a_tiny_model(tmp_path, tiny_model):
    """A group (haerae: five subtasks) gives one entry with per-subtask categories; sample ids name the subtask."""
    plan = plan_lmeval("lmeval:haerae", data_dirs=[FIXTURES])
    assert sorted(plan.leaves) == ["haerae_general_knowledge", "haerae_history", "haerae_loan_word",
                                   "haerae_rare_word", "haerae_standard_nomenclature"]
    result = run_lmeval(plan, ModelSpec(engine="hf", model=str(tiny_model)), None, tmp_path / "run")
    s = result.summary
    assert s["n"] == 10 and len(result.records) == 10 and s["valid"]
    assert set(s["categories"]) == set(plan.leaves)
    assert {r["sample_id"] for r in result.records} == {f"{t}:{i}" for t in plan.leaves for i in (0, 1)}
    assert all(r["category"] == r["sample_id"].split(":")[0] for r in result.records)
    # weight_by_size mean of the subtasks = the mean over all documents
    assert s["score"] == round(100 * mean(r["score"] for r in result.records), 4)
    assert result.manifest["lm_eval"]["kind"] == "group"
    assert len(result.manifest["data"]["datasets"]) == 5


def test_task_hash_does_not_depend_on_where_the_data_lives(tmp_path, tiny_model):
    spec = ModelSpec(engine="hf", model=str(tiny_model))
    copy = tmp_path / "copy"
    copy.mkdir()
    (copy / "test.jsonl").write_bytes((BOOLQ / "test.jsonl").read_bytes())
    a = run_lmeval(plan_lmeval("lmeval:kobest_boolq", data_override=copy, limit=2), spec, None, tmp_path / "a")
    b = run_lmeval(plan_lmeval("lmeval:kobest_boolq", data_dirs=[FIXTURES], limit=2), spec, None, tmp_path / "b")
    assert a.manifest["data"]["datasets"][0]["path"] != b.manifest["data"]["datasets"][0]["path"]
    assert a.manifest["data"]["sha256"] == b.manifest["data"]["sha256"]
    assert a.manifest["task_sha256"] == b.manifest["task_sha256"]
    assert len(a.records) == 2 and a.manifest["lm_eval"]["limit"] == 2


def test_unknown_task_and_missing_local_data_are_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="kobest_boolq"):
        plan_lmeval("lmeval:kobest_boolqq")
    with pytest.raises(DataError, match=r"skt/kobest_v1.*no local copy.*--data lmeval"):
        plan_lmeval("lmeval:kobest_copa", data_dirs=[FIXTURES])  # only boolq is there; the hub is offline
    empty = tmp_path / "empty"
    (empty / "boolq").mkdir(parents=True)
    (empty / "boolq" / "train.jsonl").write_text(BOOLQ.joinpath("test.jsonl").read_text())
    with pytest.raises(DataError, match=r"skt/kobest_v1 \(boolq\) at .* has no test split \(it has train\)"):
        plan_lmeval("lmeval:kobest_boolq", data_override=empty)
    with pytest.raises(ConfigError, match="replay"):
        run_lmeval(plan_lmeval("lmeval:kobest_boolq", data_override=BOOLQ),
                   ModelSpec(engine="replay", responses="x.jsonl"), None, tmp_path / "run")


def test_lmeval_task_beside_a_native_benchmark_in_one_harness_run(tmp_path):
    """`harness run --benchmarks mmlu_pro,lmeval:<task>` on the harness-owned server: one engine, one run directory,
    one summary; re-running the command redoes nothing."""
    import sys

    from typer.testing import CliRunner

    from conftest import read_samples
    from harness.cli import app

    out = tmp_path / "run"
    cmd = ["run", "--benchmarks", "mmlu_pro,lmeval:kmmlu_direct_accounting", "--limit", "4",
           "--engine", "vllm", "--model", "scripted-model", "--vllm-executable", f"{sys.executable} -m harness.serve",
           "--vllm-arg", "--backend scripted --reply A", "--data-dir", str(FIXTURES), "--max-tokens", "8",
           "--no-progress", "--out", str(out)]
    r = CliRunner().invoke(app, cmd)
    assert r.exit_code == 0, r.output
    first = read_samples(out)
    r = CliRunner().invoke(app, cmd)
    assert r.exit_code == 0, r.output
    assert read_samples(out) == first
    s = json.loads((out / "summary.json").read_text())["benchmarks"]
    lm = s["lmeval:kmmlu_direct_accounting"]
    assert lm["score"] == 50.0 and lm["n"] == 4  # answers 1, 2, 4, 1: "A" is right twice
    # what lm-eval cannot tell is unknown, never 0.0
    assert lm["truncation_rate"] is None and lm["error_rate"] is None and lm["unparsed_rate"] == 0.0
    assert set(lm["unknown_rates"]) == {"truncation_rate", "error_rate"}
    assert s["mmlu_pro"]["n"] == 4
    # verify and score-responses name what they cannot do with lm-eval entries instead of crashing
    r = CliRunner().invoke(app, ["score-responses", "--benchmark", "lmeval:kmmlu_direct_accounting",
                                 "--responses", str(out / "generations.jsonl"), "--out", str(tmp_path / "x")])
    assert r.exit_code == 2 and "scored inside lm-eval" in r.output
    r = CliRunner().invoke(app, ["score", str(out)])
    assert r.exit_code == 0, r.output
    assert json.loads((out / "summary.json").read_text())["benchmarks"]["lmeval:kmmlu_direct_accounting"] == lm
    m = json.loads((out / "manifest.json").read_text())["benchmarks"]["lmeval:kmmlu_direct_accounting"]
    assert m["lm_eval"]["version"] == "0.4.13" and len(m["task_sha256"]) == 64
    assert sum(1 for x in first if x["benchmark"] == "lmeval:kmmlu_direct_accounting") == 4
    assert "serve scripted-model" in (out / "server.log").read_text()  # the harness-owned server answered lm-eval
