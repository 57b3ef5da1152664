"""Any lmms-eval task through the harness: `--benchmarks lmms:<task>` (a task or a group of lmms-eval, e.g.
lmms:docvqa_val, lmms:textvqa_val, lmms:chartqa).

Plan (before any server starts): the task is resolved by lmms-eval's TaskManager and built with its datasets served
from local copies (the lm-eval bridge's interceptor, harness/lmeval/data.py: `datasets.load_dataset(<hub id>,
<config>)` answered from `<root>/<hub id>/<config>/<split>.parquet`; images stay HF `Image` columns when the parquet
file carries the datasets feature metadata, as the hub's files do). An unknown task, a missing dataset or an empty
evaluation split fails here.
Run: `lmms_eval.evaluator.simple_evaluate` in-process with lmms-eval's OpenAI-compatible chat model (`openai`,
lmms_eval/models/chat/openai.py: images sent as base64 `image_url` parts to <base_url>/chat/completions) against
the harness-owned vLLM server or the openai engine's endpoint. Responses are cached by lmms-eval under
<run>/lmms/<task>/requests (greedy requests only: lmms-eval does not cache sampled ones), so a re-run resumes.
lmms-eval turns a request that failed after its retries into the answer text `[LMMS_EVAL_REQUEST_FAILED ...]`; the
harness records those as engine errors (never scored) and drops the cache, so the next run asks again.

Result: one summary entry `lmms:<task>` (score = mean over documents of the task's first metric × 100, the same
summary function as every benchmark; lmms-eval's own aggregate is kept as `reported`), per-document generation and
score records (each with the sha256 of the images sent, never their bytes), and a manifest entry with the lmms-eval version, task version and task hash (sha256 of the resolved
task configs and of the task's files in lmms-eval: its YAML and its utils.py, which hold the prompt and metric code).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import importlib.metadata
import json
import os
import re
import shutil
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.config import GenerationParams, ModelSpec, Thresholds
from harness.errors import ConfigError, DataError, EngineError
from harness.lmeval.bridge import _env, _jsonable, _num, _r, _safe, check_pinned, check_task, store_result
from harness.lmeval.data import DataLog, local_datasets

PREFIX = "lmms:"
LMMS_VERSION = "0.7.3"  # the version this bridge is written and tested against (pin: lmms-eval==0.7.3)
FAILED = "[LMMS_EVAL_REQUEST_FAILED"  # lmms_eval/models/chat/openai.py: the text of a request that failed for good
MODEL = "openai"  # lmms-eval's OpenAI-compatible chat model


def is_lmms(benchmark: str) -> bool:
    return benchmark.startswith(PREFIX)


def check_version() -> str:
    return check_pinned("lmms-eval", LMMS_VERSION, PREFIX, f"pip install --no-deps lmms-eval=={LMMS_VERSION} and "
                        "the harness's `lmms` extra (README, lmms-eval tasks)")


@dataclass
class LmmsPlan:
    benchmark: str  # lmms:<task>
    task: str
    leaves: dict[str, Any]  # leaf task name -> built lmms-eval Task
    data: DataLog
    limit: int | None = None

    @property
    def is_group(self) -> bool:
        return self.task not in self.leaves


@dataclass
class LmmsResult:
    summary: dict[str, Any]
    manifest: dict[str, Any]
    failed: int = 0  # requests lmms-eval gave up on (recorded as engine errors)
    results: dict[str, Any] = field(repr=False, default_factory=dict)
    stored: Any = None  # harness.store.RunRecords


@functools.lru_cache(maxsize=1)
def task_manager():
    """lmms-eval's index of its tasks (seconds to build: once per process), with the model-specific prompt
    settings of its `openai` model."""
    import lmms_eval.models  # noqa: F401 - sets lmms-eval's log level to WARNING before the task index logs
    from lmms_eval.tasks import TaskManager

    return TaskManager(verbosity="WARNING", model_name=MODEL)


def _leaves(loaded: dict) -> dict[str, Any]:
    """Leaf tasks of what TaskManager.load_task_or_group returned (groups are dicts keyed by the group)."""
    out: dict[str, Any] = {}
    for k, v in loaded.items():
        if isinstance(v, dict):
            out.update(_leaves(v))
        elif v is not None:
            out[str(getattr(v, "task_name", None) or k)] = v
    return out


def data_roots(task: str, override: Path | None, data_dirs: list[Path]) -> list[Path]:
    roots = []
    if override is not None:
        if not override.is_dir():
            raise DataError(f"--data lmms:{task}={override}: not a directory (give the directory holding the split "
                            "files, or a data root with <hub id>/<config>/ directories)")
        roots.append(override)
    return roots + [d / "lmms" for d in data_dirs if (d / "lmms").is_dir()]


def _build(task: str, log: DataLog) -> dict[str, Any]:
    with local_datasets(log):
        try:
            return _leaves(task_manager().load_task_or_group([task], task_type="chat"))
        except DataError:
            raise
        except Exception as e:  # noqa: BLE001 - lmms-eval raises anything; name the task
            inner = getattr(getattr(e, "last_attempt", None), "exception", lambda: None)()  # tenacity's RetryError
            if isinstance(inner, DataError):  # lmms-eval retries a dataset download: ours is the cause
                raise inner from None
            hint = f" (local data: {log.absent()})" if log.absent() else ""
            raise DataError(f"lmms:{task}: lmms-eval could not build the task: {type(e).__name__}: {e}{hint}") \
                from None


def plan_lmms(benchmark: str, data_override: Path | None = None, data_dirs: list[Path] | None = None,
              limit: int | None = None) -> LmmsPlan:
    """Resolve and build the task with local data; raises ConfigError / DataError before anything runs."""
    check_version()
    task = benchmark.removeprefix(PREFIX)
    tm = task_manager() if task else None
    check_task(tm, task, PREFIX, "docvqa_val", f"lmms-eval {LMMS_VERSION}")
    from harness.data import data_dirs as with_default_dirs

    log = DataLog(roots=data_roots(task, data_override, with_default_dirs(data_dirs)), direct=data_override)
    leaves = _build(task, log)
    if not leaves:
        raise ConfigError(f"lmms:{task}: lmms-eval resolved no task to run")
    for name, t in leaves.items():
        if t.config.output_type != "generate_until":
            raise ConfigError(f"lmms:{task}: task {name} is {t.config.output_type}; lmms-eval's OpenAI-compatible "
                              "model answers generate_until tasks only")
        docs = t.eval_docs
        if docs is None or not len(docs):
            raise DataError(f"lmms:{task}: task {name} has no documents in its evaluation split "
                            f"({log.absent() or 'the local file is empty'})")
    return LmmsPlan(benchmark, task, leaves, log, limit)


def model_args(model: ModelSpec, base_url: str | None) -> str:
    """lmms-eval's `openai` model arguments (its `key=value,...` string; lmms_eval/models/simple/openai.py)."""
    if model.engine not in ("vllm", "openai"):
        raise ConfigError(f"lmms tasks run on the vllm or openai engine (lmms-eval's OpenAI-compatible model), not "
                          f"{model.engine!r}; serve the model with vLLM, or give --engine openai --base-url URL")
    if not base_url:
        raise ConfigError(f"lmms with the {model.engine} engine needs the server's base URL")
    args = {"model": model.served_model_name or model.model, "base_url": base_url.rstrip("/"),
            "num_concurrent": min(model.concurrency or 64, 64), "max_retries": model.max_retries,
            "timeout": int(model.request_timeout), "prefix_aware_queue": False}
    bad = [f"{k}={v}" for k, v in args.items() if any(c in str(v) for c in ",=")]
    if bad:
        raise ConfigError(f"lmms-eval takes its model arguments as one k=v,k=v string: {', '.join(bad)} cannot be "
                          "passed (no ',' or '=' in the model name or URL)")
    return ",".join(f"{k}={v}" for k, v in args.items())


def gen_kwargs(gen: GenerationParams | None) -> str | None:
    """The run's explicit generation settings as lmms-eval's gen_kwargs string (None: keep the task's own)."""
    if gen is None:
        return None
    g = gen.model_dump(exclude_unset=True, exclude_none=True)
    if "stop" in g:
        raise ConfigError("lmms tasks take their stop sequences from the task; drop the stop setting")
    out = {theirs: g[ours] for ours, theirs in (("temperature", "temperature"), ("top_p", "top_p"),
                                                 ("max_tokens", "max_new_tokens")) if ours in g}
    if "temperature" in out:
        out["do_sample"] = out["temperature"] > 0
    return ",".join(f"{k}={v}" for k, v in out.items()) or None


def cache_dir(out_dir: Path, task: str) -> Path:
    return Path(out_dir) / "lmms" / _safe(task)


def run_lmms(plan: LmmsPlan, model: ModelSpec, base_url: str | None, out_dir: Path,
             generation: GenerationParams | None = None, thresholds: Thresholds | None = None,
             bootstrap_iters: int = 1000) -> LmmsResult:
    """Run the planned task. Synchronous (lmms-eval runs its own thread pool): from async code call it in a worker
    thread."""
    import lmms_eval.evaluator as ev

    # lmms-eval 0.7.3 patches filelock's private `filelock._api` (gone in filelock 4) so that several ranks share a
    # lock on one path; the harness runs lmms-eval in one process, so the patch is skipped instead of failing.
    ev._enable_reentrant_filelocks._patched = True
    args = model_args(model, base_url)
    gk = gen_kwargs(generation)
    cdir = cache_dir(out_dir, plan.task)
    cdir.mkdir(parents=True, exist_ok=True)
    log = DataLog(roots=plan.data.roots, direct=plan.data.direct)
    offline = all(s["kind"] == "local" for s in plan.data.served)
    env = {"OPENAI_API_KEY": os.environ.get(model.api_key_env or "") or os.environ.get("OPENAI_API_KEY") or "EMPTY"}
    if offline:  # nothing needs the hub: a stray hub access fails fast instead of hanging
        env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    with _env(env), local_datasets(log):
        try:
            results = ev.simple_evaluate(
                model=MODEL, model_args=args, tasks=[plan.task], limit=plan.limit, gen_kwargs=gk,
                log_samples=True, bootstrap_iters=bootstrap_iters, use_cache=str(cdir / "requests"),
                task_manager=task_manager(), verbosity="WARNING", process_docs_parallel=1)
        except (ConfigError, DataError):
            raise
        except Exception as e:  # noqa: BLE001 - a server failure ends this task with one clear message
            raise EngineError(f"{plan.benchmark}: lmms-eval failed: {type(e).__name__}: {e}") from e
    if results is None:
        raise EngineError(f"{plan.benchmark}: lmms-eval returned no results")
    samples = results.pop("samples", {})
    (cdir / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str),
                                       encoding="utf-8")
    settings = {"model": MODEL, "model_args": args, "gen_kwargs": gk, "limit": plan.limit,
                "bootstrap_iters": bootstrap_iters}
    res = collect(plan, log, results, samples, thresholds or Thresholds(), settings)
    if res.failed:  # lmms-eval cached the failure text as an answer: drop the cache so the next run asks again
        shutil.rmtree(cdir / "requests", ignore_errors=True)
    return res


# ------------------------------------------------------------------------------------------- results -> harness

_ADDRESS = re.compile(r" at 0x[0-9a-f]+")


def task_hash(configs: dict[str, Any], files: list[Path]) -> str:
    """sha256 of the resolved task configs (sorted keys; functions by name, not address) and of the task's files."""
    text = _ADDRESS.sub("", json.dumps(configs, sort_keys=True, default=str, ensure_ascii=False))
    h = hashlib.sha256(text.encode())
    for p in sorted(files):
        h.update(p.name.encode() + b"\0" + p.read_bytes())
    return h.hexdigest()


def task_files(leaf: str) -> list[Path]:
    """The task's YAML files and Python code in lmms-eval (its directory, without subdirectories)."""
    entry = task_manager().task_index.get(leaf) or {}
    path = entry.get("yaml_path")
    if not isinstance(path, str):
        return []
    d = Path(path).parent
    return [p for p in d.iterdir() if p.is_file() and (p.suffix in (".py", ".yaml") or p.name.endswith("_yaml"))]


def primary_metric(plan: LmmsPlan) -> str:
    first = next(iter(plan.leaves.values()))
    metrics = first.config.metric_list or []
    if not metrics:
        raise ConfigError(f"{plan.benchmark}: the task defines no metric_list")
    return str(metrics[0]["metric"])


def collect(plan: LmmsPlan, log: DataLog, results: dict, samples: dict, thresholds: Thresholds,
            settings: dict[str, Any]) -> LmmsResult:
    from harness.records import from_v1
    from harness.store import RunRecords
    from harness.summary import summarize_benchmark

    metric = primary_metric(plan)
    key = f"{metric},none"
    top = results.get("results", {}).get(plan.task, {})
    records = [_record(plan, leaf, d, metric) for leaf, docs in samples.items() if leaf in plan.leaves for d in docs]
    n = len(records)
    failed = sum(1 for r in records if r["error"])
    value = _num(top.get(key))
    se = _num(top.get(f"{metric}_stderr,none"))
    version = str(results.get("versions", {}).get(plan.task, "")) or "unknown"
    configs = results.get("configs", {})
    files = {leaf: task_files(leaf) for leaf in plan.leaves}
    sha = task_hash(configs, [p for fs in files.values() for p in fs])
    lmms_version = importlib.metadata.version("lmms-eval")
    scorer = f"lmms-{sha[:16]}"  # lmms-eval scores inside lmms-eval: its version and task hash are the scorer
    leaf_cfg = next(iter(configs.values()), {}) if configs else {}
    gk = dict(leaf_cfg.get("generation_kwargs") or {})
    generation = GenerationParams(temperature=gk.get("temperature"), top_p=gk.get("top_p"),
                                  max_tokens=gk.get("max_new_tokens"), stop=gk.get("until"),
                                  extra={k: v for k, v in gk.items()
                                         if k not in ("temperature", "top_p", "max_new_tokens", "until")})
    manifest = {
        "version": version,
        "task_sha256": sha,
        "scorer": scorer,
        "scorer_parts": {"lmms_eval": lmms_version, "task_sha256": sha},
        "module": "lmms",
        "metric": f"lmms-eval {key}",
        "data": log.source(),
        "samples": n, "repeats": 1, "items": n,
        "seed": results.get("config", {}).get("random_seed"),
        "generation": generation.model_dump(mode="json"),
        "lmms_eval": {
            "version": lmms_version,
            "task": plan.task,
            "metric": key,
            "metrics": _jsonable({k: v for k, v in top.items() if k not in ("alias", "name", "sample_len")}),
            "reported": {"score": _r(100 * value) if value is not None and 0 <= value <= 1 else None,
                         "stderr": _r(100 * se) if se is not None else None, "n": n},
            "kind": "group" if plan.is_group else "task",
            "subtasks": {leaf: {"version": str(results.get("versions", {}).get(leaf)),
                                "files": sorted(p.name for p in files[leaf])} for leaf in plan.leaves},
            "failed_requests": failed,
            **settings,
        },
    }
    recs = RunRecords()
    for rec in records:
        g, sc = from_v1(rec)
        recs.add_generation(g.model_copy(update={"image_sha256": rec["image_sha256"]}))
        if sc is not None:
            recs.add_score(sc.model_copy(update={"scorer": scorer}))
    summary = summarize_benchmark(plan.benchmark, manifest, recs, thresholds)
    return LmmsResult(summary, manifest, failed, results, recs)


def _record(plan: LmmsPlan, leaf: str, d: dict[str, Any], metric: str) -> dict[str, Any]:
    resps = d.get("resps") or [[""]]
    response = str(resps[0][0] if resps and resps[0] else "")
    filtered = d.get("filtered_resps") or [None]
    error = response if response.startswith(FAILED) else None
    score = _num(d.get(metric))
    scored = score is not None and 0 <= score <= 1
    counts = (d.get("token_counts") or [{}])[0] or {}
    target = d.get("target")
    args = d.get("arguments") or [""]
    return {
        "image_sha256": sent_image_sha256(plan.leaves[leaf], d["doc_id"], str(args[0])),
        "benchmark": plan.benchmark,
        "sample_id": f"{leaf}:{d['doc_id']}" if plan.is_group else str(d["doc_id"]),
        "repeat": 0, "seed": None,
        "category": leaf if plan.is_group else None,
        "target": None if target is None else json.dumps(_jsonable(target), ensure_ascii=False)
        if not isinstance(target, str) else target,
        "extracted": None if filtered[0] is None else str(filtered[0]),
        # a per-document value outside 0..1 (or none: a metric only lmms-eval's aggregation computes) is a scorer
        # error, counted in error_rate, never a score
        "score": score if scored else None,
        "error": error or (None if scored else f"scorer: lmms-eval gave no 0-1 per-document {metric} "
                                               f"({d.get(metric)!r})"),
        "error_kind": "engine" if error else (None if scored else "scorer"),
        "details": {"task": leaf, "doc_id": d["doc_id"], "metrics": _jsonable({metric: d.get(metric)}),
                    "doc_hash": d.get("doc_hash")},
        "prompt_sha256": hashlib.sha256(str(args[0]).encode()).hexdigest(),
        "prompt_meta": None,
        "response": response,
        "reasoning": None, "reasoning_chars": 0, "finish_reason": None,
        "prompt_tokens": counts.get("input_tokens") or None,
        "completion_tokens": counts.get("output_tokens") or None,
        "reasoning_tokens": counts.get("reasoning_tokens") or None,
        "latency_s": None,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def sent_image_sha256(task: Any, doc_id: int, prompt: str) -> list[str] | None:
    """sha256 of each image lmms-eval's openai model sent for this document (the decoded bytes of its data URLs), by
    building the same messages again with lmms-eval's own code (protocol.ChatMessages.to_openai_messages: one more
    encoding of each image, never stored). None for a text-only prompt, a video or audio prompt (not re-encoded), or
    a document that does not match the request (a different prompt text)."""
    from lmms_eval.protocol import ChatMessages

    docs = task.eval_docs
    if not 0 <= doc_id < len(docs):
        return None
    doc = docs[doc_id]
    try:
        if task.doc_to_text(doc) != prompt:
            return None
        raw = task.doc_to_messages(doc)
        kinds = {part.get("type") for m in raw for part in (m.get("content") or []) if isinstance(part, dict)}
        if "image" not in kinds or kinds & {"video", "audio"}:
            return None
        sent = ChatMessages(messages=raw).to_openai_messages()
    except Exception:  # noqa: BLE001 - a hash we cannot rebuild is left out, never guessed
        return None
    urls = [part["image_url"]["url"] for m in sent if isinstance(m.get("content"), list) for part in m["content"]
            if isinstance(part, dict) and part.get("type") == "image_url"]
    return [hashlib.sha256(base64.b64decode(u.split(",", 1)[1])).hexdigest() for u in urls] or None


__all__ = ["LMMS_VERSION", "PREFIX", "LmmsPlan", "LmmsResult", "is_lmms", "plan_lmms", "run_lmms", "store_result"]
