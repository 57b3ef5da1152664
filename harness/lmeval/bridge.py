"""Any lm-eval task through the harness: `--benchmarks lmeval:<task>` (a task or a group, e.g. lmeval:kobest_boolq,
lmeval:haerae, lmeval:kmmlu).

Plan (before any server starts): the task is resolved by lm-eval's TaskManager and built with its data served from
local copies (harness/lmeval/data.py); an unknown task, a missing dataset or an empty evaluation split fails here.
Run: `lm_eval.simple_evaluate` in-process against the same model as the rest of the run:
  - engine hf            lm-eval's `hf` model (`pretrained=<dir>[, gguf_file=<file>]`, the harness's dtype/batch size)
  - engine vllm/openai   generate_until tasks: `local-chat-completions` at <base_url>/chat/completions (chat template
                         applied server-side); tasks with loglikelihood requests: `local-completions` at
                         <base_url>/completions (needs prompt logprobs with echo, as vLLM serves them)
Chat template: applied for generate_until tasks, not for loglikelihood ones (lm-eval's usual practice), unless
`chat_template` says otherwise. Generation settings given to the run override the task's generation_kwargs.
Requests are cached in <run>/lmeval/<task>/ (lm-eval's CachingLM), so a re-run after a crash resumes.

Result: one summary entry `lmeval:<task>` (score = the task's primary metric × 100: the first metric of the group's
aggregate_metric_list or of the task's metric_list, first filter; stderr from lm-eval), per-document generation and
score records (lm-eval's verdicts, under a scorer named by the task hash), and a manifest entry with the lm-eval version, task version and task hash (sha256 of the task
configs as lm-eval resolved them, machine-specific paths removed).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import importlib.metadata
import json
import math
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from harness.config import GenerationParams, ModelSpec, Thresholds
from harness.engine.batch import concurrency_for
from harness.errors import ConfigError, DataError, EngineError
from harness.lmeval.data import DataLog, data_roots, local_datasets

PREFIX = "lmeval:"
LMEVAL_VERSION = "0.4.13"  # the version this bridge is written and tested against (pin: lm-eval==0.4.13)
LOGLIKELIHOOD_TYPES = {"loglikelihood", "loglikelihood_rolling", "multiple_choice"}


def is_lmeval(benchmark: str) -> bool:
    return benchmark.startswith(PREFIX)


def check_pinned(dist: str, pinned: str, prefix: str, hint: str) -> str:
    """The installed version of `dist` when it is `pinned` (task versions and hashes depend on it), else a
    ConfigError with the install `hint`. Shared by the lm-eval and lmms-eval adapters."""
    try:
        installed = importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        raise ConfigError(f"{prefix}* benchmarks need {dist}: {hint}") from None
    if installed != pinned:
        raise ConfigError(f"{dist} {installed} is installed; the harness is pinned to {pinned} (task "
                          f"versions and hashes depend on it): {hint}")
    return installed


def check_version() -> str:
    return check_pinned("lm-eval", LMEVAL_VERSION, PREFIX, f"pip install 'lm-eval[api]=={LMEVAL_VERSION}'")


@dataclass
class LmevalPlan:
    benchmark: str  # lmeval:<task>
    task: str
    top: Any  # the built lm-eval Task or Group
    leaves: dict[str, Any]  # leaf task name -> Task
    data: DataLog
    limit: int | None = None
    num_fewshot: int | None = None

    @property
    def output_types(self) -> set[str]:
        return {t.config.output_type for t in self.leaves.values()}

    @property
    def is_group(self) -> bool:
        return self.task not in self.leaves


@dataclass
class LmevalResult:
    summary: dict[str, Any]  # summary.json entry for `benchmark`
    records: list[dict[str, Any]]  # per document: the generation and lm-eval's verdict in one view
    manifest: dict[str, Any]  # manifest.json benchmarks entry
    results: dict[str, Any] = field(repr=False, default_factory=dict)  # lm-eval's own output, samples removed
    stored: Any = None  # harness.store.RunRecords: the records as generations and scores


@functools.lru_cache(maxsize=1)
def task_manager():
    """lm-eval's index of its built-in tasks (scanning the task YAMLs takes seconds: built once per process)."""
    from lm_eval.tasks import TaskManager

    return TaskManager()


def check_task(tm, task: str, prefix: str, example: str, library: str) -> None:
    """A task name the library's TaskManager `tm` knows (a task or a group, not a bare tag), else a ConfigError naming
    close matches. Shared by the lm-eval and lmms-eval adapters (lmms-eval's TaskManager is lm-eval's shape)."""
    if not task:
        raise ConfigError(f"{prefix} needs a task name, e.g. {prefix}{example}")
    if task not in tm.all_tasks:
        import difflib

        close = difflib.get_close_matches(task, tm.all_tasks, n=5)
        raise ConfigError(f"{library} has no task or group {task!r}"
                          + (f"; did you mean {', '.join(close)}?" if close else ""))
    if task in tm.all_tags and task not in tm.all_groups:
        raise ConfigError(f"{task!r} is an {library.split()[0]} tag (a list of tasks with no aggregate score); run one "
                          "of its tasks, or a group")


def plan_lmeval(benchmark: str, data_override: Path | None = None, data_dirs: list[Path] | None = None,
                limit: int | None = None, num_fewshot: int | None = None) -> LmevalPlan:
    """Resolve and build the task with local data (raises ConfigError / DataError before anything runs). `data_dirs`
    as for native benchmarks (--data-dir); HARNESS_DATA_DIR / ../shared/data are searched after them."""
    check_version()
    task = benchmark.removeprefix(PREFIX)
    tm = task_manager() if task else None
    check_task(tm, task, PREFIX, "kobest_boolq", f"lm-eval {LMEVAL_VERSION}")
    from harness.data import data_dirs as with_default_dirs

    log = DataLog(roots=data_roots(task, data_override, with_default_dirs(data_dirs)), direct=data_override)
    with local_datasets(log):
        try:
            loaded = tm.load([task])
        except DataError:
            raise
        except Exception as e:  # noqa: BLE001 - lm-eval raises anything; name the task
            hint = f" (local data: {log.absent()})" if log.absent() else ""
            raise DataError(f"lmeval:{task}: lm-eval could not build the task: {type(e).__name__}: {e}{hint}") \
                from None
    leaves = loaded["tasks"]
    top = loaded["groups"].get(task) or leaves.get(task)
    for name, t in leaves.items():
        if not _eval_docs(t):
            raise DataError(f"lmeval:{task}: task {name} has no documents in its evaluation split "
                            f"{_eval_split(t)!r} ({log.absent() or 'the local file is empty'})")
    return LmevalPlan(benchmark, task, top, leaves, log, limit, num_fewshot)


def _eval_split(t) -> str | None:
    return t.config.test_split or t.config.validation_split


def _eval_docs(t):
    docs = t.eval_docs
    return docs if docs is not None and len(docs) else None


def lm_for(model: ModelSpec, base_url: str | None, output_types: set[str]) -> tuple[str, dict[str, Any], bool]:
    """(lm-eval model name, model_args, whether the model needs chat-formatted requests)."""
    if model.engine == "hf":
        from harness.engine.hf import resolve_model

        path, gguf = resolve_model(model.model, model.gguf_file)
        args: dict[str, Any] = {"pretrained": path, "dtype": model.dtype}
        if gguf:
            args["gguf_file"] = gguf
        return "hf", args, False
    if model.engine in ("vllm", "openai"):
        if not base_url:
            raise ConfigError(f"lmeval with the {model.engine} engine needs the server's base URL")
        # lm-eval 0.4.13 (lm_eval/models/api_models.py, TemplateAPI): requests are not streamed, `timeout` is a
        # total per attempt (aiohttp ClientTimeout(total=...); requests' read timeout when num_concurrent is 1), and
        # `max_retries` counts attempts (tenacity stop_after_attempt). An answer that is not streamed sends no byte
        # until it is complete, so the harness's idle --request-timeout means the same here as with --no-stream: the
        # whole answer within --request-timeout. Attempts = 1 + --max-retries, as the harness's own client makes.
        common = {"model": model.served_model_name or model.model, "num_concurrent": min(concurrency_for(model)[0], 64),
                  "max_retries": model.max_retries + 1, "timeout": math.ceil(model.request_timeout)}
        if output_types & LOGLIKELIHOOD_TYPES:
            return "local-completions", {**common, "base_url": base_url.rstrip("/") + "/completions",
                                         "tokenizer": model.model}, False
        return "local-chat-completions", {**common, "base_url": base_url.rstrip("/") + "/chat/completions"}, True
    raise ConfigError(f"lmeval tasks run on the hf, vllm or openai engines, not {model.engine!r}")


def gen_kwargs(gen: GenerationParams | None, api: bool) -> dict[str, Any] | None:
    """The run's explicit generation settings as lm-eval generation_kwargs (None: keep the task's own)."""
    if gen is None:
        return None
    g = gen.model_dump(exclude_unset=True, exclude_none=True)
    out: dict[str, Any] = {}
    if "temperature" in g:
        out["temperature"] = g["temperature"]
        out["do_sample"] = g["temperature"] > 0
    for ours, theirs in (("top_p", "top_p"), ("top_k", "top_k"), ("max_tokens", "max_gen_toks"), ("stop", "until")):
        if ours in g:
            out[theirs] = g[ours]
    if api:
        out.update(g.get("extra") or {})
    return out or None


@contextlib.contextmanager
def _env(updates: dict[str, str | None]):
    saved = {k: os.environ.get(k) for k in updates}
    for k, v in updates.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_lmeval(plan: LmevalPlan, model: ModelSpec, base_url: str | None, out_dir: Path,
               generation: GenerationParams | None = None, thresholds: Thresholds | None = None,
               chat_template: bool | None = None, bootstrap_iters: int = 100000) -> LmevalResult:
    """Run the planned task against the model. Synchronous: lm-eval's API models run their own event loop, so call
    it from a worker thread inside async code (`await asyncio.to_thread(run_lmeval, ...)`)."""
    import lm_eval

    name, args, chat = lm_for(model, base_url, plan.output_types)
    apply_chat = chat if chat else (chat_template if chat_template is not None
                                    else not (plan.output_types & LOGLIKELIHOOD_TYPES))
    gk = gen_kwargs(generation, api=name != "hf")
    cache_dir = out_dir / "lmeval" / _safe(plan.task)
    cache_dir.mkdir(parents=True, exist_ok=True)
    device = None
    if name == "hf":
        import torch

        device = "cuda" if torch.cuda.is_available() else "cpu"
    offline = all(s["kind"] == "local" for s in plan.data.served)
    env = {"OPENAI_API_KEY": os.environ.get(model.api_key_env) or os.environ.get("OPENAI_API_KEY")}
    if offline:  # nothing needs the hub: any stray hub access (e.g. an HF `evaluate` metric) fails fast, never hangs
        env.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    with _env(env):
        try:
            results = lm_eval.simple_evaluate(
                model=name, model_args=args, tasks=[plan.top], num_fewshot=plan.num_fewshot, limit=plan.limit,
                batch_size=model.batch_size if name == "hf" else 1, device=device, gen_kwargs=gk,
                apply_chat_template=apply_chat, log_samples=True, bootstrap_iters=bootstrap_iters,
                use_cache=str(cache_dir / "requests"), task_manager=task_manager())
        except (ConfigError, DataError):
            raise
        except Exception as e:  # noqa: BLE001 - a model or server failure ends this task with one clear message
            raise EngineError(f"{plan.benchmark}: lm-eval failed: {type(e).__name__}: {e}") from e
    if results is None:
        raise EngineError(f"{plan.benchmark}: lm-eval returned no results (not rank 0?)")
    samples = results.pop("samples", {})
    results.pop("pretty_env_info", None)
    (cache_dir / "results.json").write_text(json.dumps(results, ensure_ascii=False, indent=2, default=str),
                                            encoding="utf-8")
    settings = {"model": name, "model_args": args, "apply_chat_template": apply_chat, "gen_kwargs": gk,
                "num_fewshot": plan.num_fewshot, "limit": plan.limit, "bootstrap_iters": bootstrap_iters}
    return collect(plan, results, samples, thresholds or Thresholds(), settings)


# ------------------------------------------------------------------------------------------- results -> harness


def primary_metric(plan: LmevalPlan) -> tuple[str, str]:
    """(metric, filter) that the summary's score reports."""
    first_leaf = next(iter(plan.leaves.values()))
    filters = first_leaf.config.filter_list or []
    flt = filters[0]["name"] if filters and isinstance(filters[0], dict) else "none"
    agg = getattr(plan.top, "aggregate_metric_list", None) if plan.is_group else None
    if agg:
        m = agg[0]
        return m.metric, (m.filter_list[0] if m.filter_list else flt)
    metrics = first_leaf.config.metric_list or []
    if not metrics:
        raise ConfigError(f"{plan.benchmark}: the task defines no metric_list")
    return str(metrics[0]["metric"]), flt


def task_hash(configs: dict[str, Any]) -> str:
    """sha256 of the resolved task configs (sorted keys), without where this machine keeps files."""
    clean = json.loads(json.dumps(configs, sort_keys=True, default=str))
    for c in clean.values():
        if isinstance(c.get("metadata"), dict):
            c["metadata"].pop("config_source", None)
    return hashlib.sha256(json.dumps(clean, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def _num(x: Any) -> float | None:
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float)) and math.isfinite(x):
        return float(x)
    return None


def _r(x: float | None, nd: int = 4) -> float | None:
    return None if x is None else round(x, nd)


def collect(plan: LmevalPlan, results: dict, samples: dict, thresholds: Thresholds,
            settings: dict[str, Any]) -> LmevalResult:
    metric, flt = primary_metric(plan)
    key = f"{metric},{flt}"
    top_res = results["results"].get(plan.task, {})
    if key not in top_res:
        key = next((k for k in top_res if k.startswith(metric + ",") and "_stderr" not in k), key)
    records = [rec for leaf, docs in samples.items() for d in docs if d.get("filter") == key.split(",", 1)[1]
               for rec in [_record(plan, leaf, d, metric)]]
    n = sum(int(v.get("effective", 0)) for k, v in results.get("n-samples", {}).items() if k in plan.leaves)

    value = _num(top_res.get(key))
    reasons = []
    if value is None:
        reasons.append(f"lm-eval reported no {key} for {plan.task}")
    elif not 0 <= value <= 1:
        reasons.append(f"primary metric {key} = {value} is not a 0-1 score; see lm_eval.metrics")
        value = None
    score = 100 * value if value is not None else None
    se = _num(top_res.get(key.replace(",", "_stderr,", 1)))
    se = 100 * se if se is not None and score is not None else None
    if not records:
        reasons.append("no per-document records")
    version = str(results.get("versions", {}).get(plan.task, "")) or "unknown"
    all_metrics = {k: v for k, v in top_res.items() if k not in ("name", "alias", "sample_len")}
    configs = results.get("configs", {})
    gk = settings.get("gen_kwargs") or {}
    generation = GenerationParams(
        temperature=gk.get("temperature"), top_p=gk.get("top_p"), top_k=gk.get("top_k"),
        max_tokens=gk.get("max_gen_toks"), stop=gk.get("until"),
        extra={k: v for k, v in gk.items() if k not in ("temperature", "top_p", "top_k", "max_gen_toks", "until")})
    sha = task_hash(configs)
    scorer = f"lmeval-{sha[:16]}"  # lm-eval scores inside lm-eval: its task hash and version are the scorer
    manifest = {
        "version": version,
        "task_sha256": sha,
        "scorer": scorer,
        "scorer_parts": {"lm_eval": importlib.metadata.version("lm-eval"), "task_sha256": sha},
        "module": "lmeval",
        "metric": f"lm-eval {key}",
        "data": plan.data.source(),
        "samples": n, "repeats": 1, "items": n,
        "seed": results.get("config", {}).get("random_seed"),
        "generation": generation.model_dump(mode="json"),
        "lm_eval": {
            "version": importlib.metadata.version("lm-eval"),
            "task": plan.task,
            "metric": key,
            "metrics": _jsonable(all_metrics),
            # lm-eval's own aggregate (a group's is not always a mean over documents): the summary's score
            "reported": {"score": _r(score), "stderr": _r(se), "n": n, "note": "; ".join(reasons) or None},
            "kind": "group" if plan.is_group else "task",
            "subtasks": {leaf: {"version": str(results.get("versions", {}).get(leaf)),
                                "sha256": task_hash({leaf: configs[leaf]}) if leaf in configs else None,
                                "output_type": configs.get(leaf, {}).get("output_type"),
                                "num_fewshot": results.get("n-shot", {}).get(leaf)} for leaf in plan.leaves},
            **settings,
            "seeds": {k: results.get("config", {}).get(k) for k in
                      ("random_seed", "numpy_seed", "torch_seed", "fewshot_seed")},
        },
    }
    from harness.records import from_v1
    from harness.summary import summarize_benchmark
    from harness.store import RunRecords

    recs = RunRecords()
    for rec in records:
        g, sc = from_v1(rec)
        recs.add_generation(g)
        if sc is not None:
            recs.add_score(sc.model_copy(update={"scorer": scorer}))
    summary = summarize_benchmark(plan.benchmark, manifest, recs, thresholds)
    if reasons and summary["valid"]:
        summary.update(valid=False, invalid_reason="; ".join(reasons))
    return LmevalResult(summary, records, manifest, results, recs)


def _choices(task, doc) -> list[str] | None:
    try:
        c = task.doc_to_choice(doc)
    except Exception:  # noqa: BLE001 - generate_until tasks have none
        return None
    return [str(x) for x in c] if isinstance(c, (list, tuple)) else None


def _record(plan: LmevalPlan, leaf: str, d: dict[str, Any], metric: str) -> dict[str, Any]:
    task = plan.leaves[leaf]
    mc = task.config.output_type in LOGLIKELIHOOD_TYPES
    target: Any = d.get("target")
    choices = _choices(task, d["doc"]) if mc else None
    if choices and isinstance(target, int) and 0 <= target < len(choices):
        target = choices[target]
    filtered = d.get("filtered_resps") or []
    if mc:
        lls = [x[0] if isinstance(x, (list, tuple)) else x for x in filtered]
        best = max(range(len(lls)), key=lambda i: lls[i]) if lls else None
        extracted = (choices[best] if choices and best is not None and best < len(choices) else str(best)) \
            if best is not None else None
        response = ""
    else:
        out = filtered[0] if filtered else None
        extracted = None if out in (None, "[invalid]") else str(out)
        resps = d.get("resps") or [[""]]
        response = str(resps[0][0] if resps and resps[0] else "")
    score = _num(d.get(metric))
    prompt = d["arguments"][0][0] if d.get("arguments") else ""
    details = {"task": leaf, "doc_id": d["doc_id"], "filter": d.get("filter"),
               "metrics": _jsonable({m: d.get(m) for m in d.get("metrics", [])}),
               "doc_hash": d.get("doc_hash"), "target_hash": d.get("target_hash")}
    if mc:
        details["loglikelihoods"] = _jsonable(lls)
    return {
        "benchmark": plan.benchmark,
        "sample_id": f"{leaf}:{d['doc_id']}" if plan.is_group else str(d["doc_id"]),
        "repeat": 0,
        "seed": None,
        "category": leaf if plan.is_group else None,
        "target": None if target is None else str(target),
        "extracted": extracted,
        "score": score if score is not None and 0 <= score <= 1 else None,
        "details": details,
        "prompt_sha256": hashlib.sha256(str(prompt).encode()).hexdigest(),
        "prompt_meta": None,
        "response": response,
        "reasoning": None,
        "reasoning_chars": 0,
        "finish_reason": None,
        "prompt_tokens": None,
        "completion_tokens": None,
        "reasoning_tokens": None,
        "latency_s": None,
        "error": None,
        "error_kind": None,
        "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _jsonable(x: Any) -> Any:
    return json.loads(json.dumps(x, default=lambda o: o.item() if hasattr(o, "item") else str(o)))


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in name)


def run_lmeval_task(benchmark: str, model: ModelSpec, base_url: str | None, out_dir: Path, limit: int | None = None,
                    data_override: Path | None = None, data_dirs: list[Path] | None = None,
                    generation: GenerationParams | None = None, thresholds: Thresholds | None = None,
                    num_fewshot: int | None = None) -> LmevalResult:
    """plan_lmeval + run_lmeval in one call."""
    plan = plan_lmeval(benchmark, data_override, data_dirs, limit, num_fewshot)
    return run_lmeval(plan, model, base_url, out_dir, generation, thresholds)


def save_to_run(run_dir: Path, model: ModelSpec, result: LmevalResult, argv: list[str] | None = None) -> None:
    """Store one lm-eval result in a run directory like a native benchmark: generations and scores appended, the
    entry set in manifest.json, summary.json recomputed (files created with their required fields when missing)."""
    from harness import provenance
    from harness.records import SCHEMA_VERSION, now
    from harness.store import RunStore
    from harness.summary import summarize_run

    bench = PREFIX + result.manifest["lm_eval"]["task"]
    store = RunStore(run_dir)
    store.open()
    try:
        store_result(store, result)
        manifest = store.read_manifest() or {
            "schema_version": SCHEMA_VERSION, "run_id": Path(run_dir).name, "created": now(), "command": argv or [],
            "harness": {"version": provenance.package_versions().get("harness"), "git": provenance.git_revision()},
            "packages": provenance.package_versions(), "model": model.public_dict(),
            "engine": {"engine": model.engine}, "benchmarks": {}}
        manifest["benchmarks"][bench] = result.manifest
        manifest["updated"] = now()
        store.write_manifest(manifest)
        store.write_summary(summarize_run(manifest, store.records, model=model.display_name))
    finally:
        store.close()


def store_result(store: Any, result: LmevalResult) -> None:
    for g in result.stored.generations.values():
        store.append_generation(g)
    for sc in result.stored.scores.values():
        store.append_score(sc)
