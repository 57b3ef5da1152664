"""The record types of a run directory, defined once; the JSON Schemas in harness/schemas/ are generated from them.

A run has two stages and two append-only logs:

    generations.jsonl   Generation: what the model was asked (prompt hash, settings, seed) and how it answered
                        (response, reasoning, transcript, tokens, finish_reason, latency) or the engine error.
    scores.jsonl        ScoreRecord: the verdict of one scorer, named by its fingerprint, on one generation.

`summary.json` (Summary, one BenchmarkSummary per benchmark) is computed from both by `harness.summary`. A score
can always be recomputed from the generations without the model. Version-1 run directories (one samples.jsonl
holding both) are read through `from_v1`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SCHEMA_VERSION = "2.0"
READABLE_VERSIONS = ("1.0", "2.0")
V1_SCORER = "v1"  # the fingerprint given to scores read from a version-1 samples.jsonl
Key = tuple[str, str, int]  # (benchmark, sample_id, repeat): one work item


def now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


class Record(BaseModel):
    # readers ignore fields added by later 2.x versions; every field is always written (required in the schema)
    model_config = ConfigDict(extra="allow", json_schema_serialization_defaults_required=True)

    benchmark: str = Field(description="Canonical benchmark name, e.g. mmlu_pro, lmeval:kobest_boolq.")
    sample_id: str = Field(description="The upstream id of the sample, as a string.")
    repeat: int = Field(ge=0, description="0-based repeat index.")

    @property
    def key(self) -> Key:
        return (self.benchmark, self.sample_id, self.repeat)


class Generation(Record):
    """Stage 1: one attempt at one work item. A later attempt of the same item (after an engine error) supersedes
    it; a successful generation is never redone."""

    seed: int | None = Field(None, description="Per-(sample, repeat) seed sent with the request.")
    category: str | None = Field(None, description="The sample's category (subject, subset, class).")
    prompt_sha256: str | None = Field(None, description="sha256 of the prompt messages (JSON, sorted keys).")
    image_sha256: list[str] | None = Field(None, description="sha256 of each image the prompt carries (the decoded "
                                           "bytes), in order; null: a text-only prompt. The bytes are never stored.")
    prompt_meta: dict[str, Any] | None = Field(None, description="What the prompt carries besides its text (e.g. "
                                               "the shuffled option order).")
    request: dict[str, Any] | None = Field(None, description="Generation settings sent with the request.")
    max_tokens_clamped_from: int | None = Field(
        None, description="The benchmark's max_tokens when the request's was cut to the context left after the prompt "
        "(engine context minus prompt tokens; the request's max_tokens is what was sent); null when not cut.")
    response: str = Field("", description="The answer, reasoning removed.")
    reasoning: str | None = Field(None, description="Reasoning (vLLM reasoning parser output or <think> blocks).")
    finish_reason: str | None = Field(None, description="As the server reported it: stop, length, tool_calls, ...")
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    reasoning_tokens: int | None = None
    latency_s: float | None = Field(None, description="Wall time of the request (all turns for agents).")
    error: str | None = Field(None, description="Set when the engine failed: not scored, retried on resume.")
    error_kind: Literal["engine", "context"] | None = Field(
        None, description="engine: the request failed after retries; context: the prompt cannot fit the model.")
    engine_extra: dict[str, Any] | None = Field(None, description="Engine- or agent-specific output (τ² transcript, "
                                                "tool calls, termination reason; lm-eval document data).")
    time: str = Field(default_factory=now, description="When the record was written (UTC, ISO 8601).")


class ScoreRecord(Record):
    """Stage 2: one scorer's verdict on the generation of one work item. Keyed by (item, scorer); a scorer error is
    re-scored on the next run or `harness score`, never regenerated."""

    scorer: str = Field(description="Scorer fingerprint: sha256 over the benchmark's scoring code, task YAML, judge "
                        "identity and the versions of the official checkers it uses.")
    target: str | None = Field(None, description="The correct answer for this (sample, repeat).")
    extracted: str | None = Field(None, description="The answer the scorer read; null: none could be extracted "
                                  "(scored 0, counted as unparsed).")
    score: float | None = Field(None, ge=0, le=1, description="0..1; null only with error.")
    details: dict[str, Any] | None = Field(None, description="Which extraction rule matched, judge verdict, tests "
                                           "passed, reward breakdown, ...")
    error: str | None = Field(None, description="The scorer could not decide (judge failed, checker missing): not "
                              "scored, counted in error_rate, re-scored on the next run.")
    generation_time: str | None = Field(None, description="`time` of the generation this verdict is about.")
    time: str = Field(default_factory=now)


class Tokens(BaseModel):
    prompt_mean: float | None = None
    completion_mean: float | None = None
    completion_max: int | None = None
    completion_total: int | None = None
    latency_mean_s: float | None = None


class BenchmarkSummary(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_serialization_defaults_required=True)

    score: float | None = Field(description="0-100: mean over samples of each sample's mean over repeats; null when "
                                "nothing is scored.")
    n: int = Field(ge=0, description="Samples with at least one scored repeat.")
    repeats: int = Field(ge=1)
    items: int = Field(ge=0, description="Work items with a generation record.")
    items_expected: int = Field(ge=0, description="Samples × repeats planned.")
    items_scored: int | None = Field(None, ge=0, description="Items with a verdict of the current scorer.")
    stderr: float | None = Field(None, description="Standard error of the per-sample means, ×100.")
    ci95: list[float] | None = Field(None, min_length=2, max_length=2, description="Student-t 95% CI, clipped to "
                                     "0-100.")
    truncation_rate: float | None = Field(description="Share of items with finish_reason length; null: unknown.")
    unparsed_rate: float | None = Field(description="Share of scored items with no extracted answer; null: unknown.")
    error_rate: float | None = Field(description="Share of items with an engine or scorer error; null: unknown.")
    unknown_rates: dict[str, str] | None = Field(None, description="Why a rate is null, by rate name.")
    valid: bool
    invalid_reason: str | None = None
    repeat_scores: list[float | None] = Field(default_factory=list)
    categories: dict[str, float | None] | None = None
    tokens: Tokens | None = None
    version: str | None = None
    metric: str | None = None
    scorer: str | None = Field(None, description="Fingerprint of the scorer whose verdicts this summary counts.")
    metrics: dict[str, Any] | None = Field(None, description="Benchmark-specific metrics (pass^k, calibration error, "
                                           "prompt/instruction × strict/loose, ...).")


class Summary(BaseModel):
    model_config = ConfigDict(extra="allow", json_schema_serialization_defaults_required=True)

    schema_version: Literal["2.0"] = SCHEMA_VERSION
    run_id: str = Field(min_length=1)
    model: str
    engine: str | None = None
    updated: str = Field(default_factory=now)
    complete: bool = Field(description="Every planned item of every benchmark has a generation and a current score.")
    benchmarks: dict[str, BenchmarkSummary]


class BenchmarkManifest(BaseModel):
    model_config = ConfigDict(extra="allow")

    version: str | None
    task_sha256: str | None
    module: str | None = None
    metric: str | None = None
    data: dict[str, Any] = Field(default_factory=dict, description="Source: local path and sha256, or hub id, "
                                 "config, split, revision.")
    samples: int | None = None
    sample_ids_sha256: str | None = None
    repeats: int = Field(ge=1)
    items: int | None = None
    seed: int | None = None
    generation: dict[str, Any] = Field(default_factory=dict)
    prompt_sha256: str | None = Field(None, description="sha256 of the per-item prompt hashes, in plan order.")
    scorer: str | None = Field(None, description="The scorer fingerprint of the current scores.")
    scorer_parts: dict[str, Any] | None = Field(None, description="What the fingerprint covers.")
    shard: dict[str, Any] | None = None


class Manifest(BaseModel):
    model_config = ConfigDict(extra="allow")

    schema_version: Literal["2.0"] = SCHEMA_VERSION
    run_id: str = Field(min_length=1)
    created: str = Field(description="When the run directory was first written (kept across resumes).")
    updated: str | None = Field(None, description="When this manifest was last written.")
    command: list[str] = Field(default_factory=list)
    commands: list[dict[str, Any]] | None = Field(None, description="Every command that wrote to this directory.")
    resumed: list[dict[str, Any]] | None = Field(None, description="Each time a command continued this run: when, "
                                                 "and what it found and had left to do ({time, found, left}).")
    harness: dict[str, Any] = Field(default_factory=dict)
    packages: dict[str, str | None] = Field(default_factory=dict)
    hardware: dict[str, Any] = Field(default_factory=dict)
    model: dict[str, Any] = Field(description="The model spec (no secrets).")
    engine: dict[str, Any] = Field(description="Engine identity and arguments as the engine describes itself.")
    answers: dict[str, Any] | None = Field(None, description="What decides how the model answers (model, served "
                                           "name, parsers, chat template hash, max model length, dtype, engine "
                                           "arguments, replayed file): resuming with any of it changed is refused.")
    roles: dict[str, Any] = Field(default_factory=dict, description="Judge and user-simulator engines.")
    thresholds: dict[str, float] = Field(default_factory=dict)
    benchmarks: dict[str, BenchmarkManifest]


MODELS = {"manifest": Manifest, "generations": Generation, "scores": ScoreRecord, "summary": Summary}


def from_v1(rec: dict[str, Any]) -> tuple[Generation, ScoreRecord | None]:
    """A version-1 samples.jsonl line as a generation and (unless the engine failed) a score."""
    kind = rec.get("error_kind")
    engine_failed = rec.get("error") is not None and kind != "scorer"
    gen = Generation(
        benchmark=rec["benchmark"], sample_id=str(rec["sample_id"]), repeat=int(rec["repeat"]), seed=rec.get("seed"),
        category=rec.get("category"), prompt_sha256=rec.get("prompt_sha256"), prompt_meta=rec.get("prompt_meta"),
        response=rec.get("response") or "", reasoning=rec.get("reasoning"), finish_reason=rec.get("finish_reason"),
        prompt_tokens=rec.get("prompt_tokens"), completion_tokens=rec.get("completion_tokens"),
        reasoning_tokens=rec.get("reasoning_tokens"), latency_s=rec.get("latency_s"),
        error=rec.get("error") if engine_failed else None,
        error_kind=(kind if kind in ("engine", "context") else "engine") if engine_failed else None,
        engine_extra=rec.get("engine_extra"), time=rec.get("time") or now())
    if engine_failed:
        return gen, None
    err = rec.get("error")
    if err and err.startswith("scorer: "):
        err = err[len("scorer: "):]
    score = ScoreRecord(benchmark=gen.benchmark, sample_id=gen.sample_id, repeat=gen.repeat, scorer=V1_SCORER,
                        target=_str(rec.get("target")), extracted=_str(rec.get("extracted")), score=rec.get("score"),
                        details=rec.get("details"), error=err, generation_time=gen.time, time=gen.time)
    return gen, score


def _str(x: Any) -> str | None:
    return None if x is None else str(x)


def item_view(gen: Any, score: Any) -> dict[str, Any]:
    """One work item as benchmarks' `metrics`, the summary and reports read it: the generation's fields with the
    verdict's on top. `error` is the engine's error, else the scorer's (prefixed `scorer: `); an item with no verdict
    yet has `score: None` and `unscored: True`. `gen`: a Generation or a harness.store.LeanGeneration (no texts);
    `score`: a ScoreRecord or a harness.store.LeanScore."""
    if isinstance(gen, Generation):
        d = gen.model_dump()
        d["reasoning_chars"] = len(gen.reasoning) if gen.reasoning else 0
    else:  # harness.store.LeanGeneration: the same view without the answer's texts
        d = gen.view()
    if gen.error is not None:
        d.update(target=None, extracted=None, score=None, details=None)
        return d
    if score is None:
        d.update(target=None, extracted=None, score=None, details=None, unscored=True)
        return d
    d.update(target=score.target, extracted=score.extracted, score=score.score, details=score.details,
             scorer=score.scorer)
    if score.error is not None:
        d.update(error=f"scorer: {score.error}", error_kind="scorer", score=None)
    return d
