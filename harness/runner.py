"""Suite × samples × repeats → work items; generates what is missing, scores what has no current verdict, resumes.

A work item is (benchmark, sample_id, repeat). Stage 1 (harness.generate) asks the model and appends a generation
record; stage 2 (harness.score) scores it beside generation, keyed by the scorer fingerprint. On a re-run, items with a
successful generation are never asked again (engine errors are retried); items without a verdict of the current
scorer (new items, scorer errors, a changed scorer) are scored from the stored generation.

The runner knows benchmarks, engines and the store; progress display, shards and plug-in entries (lm-eval tasks)
are handed in by the caller.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Protocol

from harness import fit, images, provenance
from harness.benchmarks import Benchmark, Sample, load_benchmark
from harness.benchmarks.base import Roles
from harness.config import GenerationParams, ModelSpec, SuiteEntry, Thresholds
from harness.data import load_rows
from harness.engine.base import Engine
from harness.errors import ConfigError, DataError, EngineError, HarnessError
from harness.interrupt import interruptible
from harness.records import SCHEMA_VERSION, Key, now
from harness.score import ScorePool, fingerprint, prompt_sha256, role_identity
from harness.shard import select_shard, shard_manifest
from harness.store import RunStore
from harness.summary import summarize_run


@dataclass
class BenchPlan:
    benchmark: Benchmark
    samples: list[Sample]
    repeats: int
    params: GenerationParams
    data_source: dict[str, Any]
    keys: list[tuple[str, int]] | None = None  # explicit (sample_id, repeat) items, else samples × repeats
    shard: dict[str, Any] | None = None  # harness.shard.shard_manifest when this run is one shard of N
    scorer: str | None = None  # set by the runner once the roles are known
    scorer_parts: dict[str, Any] | None = None
    budget: dict[str, Any] | None = None  # where max_tokens came from (harness.fit.budgeted)
    images_per_prompt: int = 0  # the most images one of its prompts carries (a vLLM server is started to take them)

    @property
    def name(self) -> str:
        return self.benchmark.name

    def items(self) -> list[tuple[Sample, int]]:
        by_id = {s.id: s for s in self.samples}
        if self.keys is not None:
            return [(by_id[sid], rep) for sid, rep in self.keys]
        return [(s, rep) for rep in range(self.repeats) for s in self.samples]

    def item_keys(self) -> list[Key]:
        return [(self.name, s.id, rep) for s, rep in self.items()]


class Plugin(Protocol):
    """A benchmark run by another tool against the same engine (lm-eval tasks): stores its own records."""

    name: str

    def pending(self, out: Path) -> bool: ...

    def manifest_entry(self, out: Path) -> dict[str, Any]: ...

    def needs_engine(self, model: ModelSpec) -> bool: ...

    async def run(self, model: ModelSpec, engine: Engine, store: RunStore, out: Path) -> None: ...


@dataclass
class RunOptions:
    out: Path
    run_id: str
    thresholds: Thresholds = field(default_factory=Thresholds)
    workers: int = 256
    max_consecutive_errors: int = 50
    progress: Callable[[dict[str, int]], Any] | None = None  # todo per benchmark -> object with advance/stop
    argv: list[str] = field(default_factory=lambda: list(sys.argv))
    roles: dict[str, Engine] = field(default_factory=dict)  # extra engines by role: judge, user_sim
    score_processes: int | None = None  # worker processes for synchronous scorers (None: by CPU count)


def plan_benchmarks(
    entries: list[SuiteEntry],
    model: ModelSpec,
    repeats: int | None = None,
    limit: int | None = None,
    generation: GenerationParams | None = None,
    suite_generation: GenerationParams | None = None,
    data_overrides: dict[str, Path] | None = None,
    data_dirs: list[Path] | None = None,
    roles: tuple[str, ...] | list[str] | None = None,
    shard: tuple[int, int] | None = None,
    plugins: dict[str, Callable[..., Any]] | None = None,
) -> list:
    """Load every benchmark and its data up front, so that a bad name or a missing file fails before any server
    starts. Generation settings: benchmark YAML < suite < model spec < command line. `plugins`: name prefix →
    planner(name, data_override, data_dirs, limit, generation) for entries another tool runs (lm-eval)."""
    from harness.config import MAX_REPEATS

    if repeats is not None and not 1 <= repeats <= MAX_REPEATS:
        raise ConfigError(f"--repeats {repeats}: must be between 1 and {MAX_REPEATS:,}")
    if limit is not None and limit < 1:
        raise ConfigError(f"--limit {limit}: must be at least 1 (the first N samples of each benchmark)")
    data_overrides = data_overrides or {}
    plugins = plugins or {}
    names = [e.name for e in entries]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ConfigError(f"{', '.join(twice)} listed more than once; give each benchmark once")
    unknown = set(data_overrides) - set(names)
    if unknown:
        raise ConfigError(f"--data names benchmarks not in this run: {', '.join(sorted(unknown))}")

    def plugin_for(name: str):
        return next((p for prefix, p in plugins.items() if name.startswith(prefix)), None)

    # names and roles first (cheap, and they fail without touching any data)
    benches = {e.name: load_benchmark(e.name) for e in entries if plugin_for(e.name) is None}
    for name, bench in benches.items():
        missing = [r for r in bench.roles if r not in (roles or ())]
        if missing:
            flags = ", ".join("--" + r.replace("_", "-") for r in missing)
            raise ConfigError(f"{name} needs {flags} (a second engine: e.g. {flags} openai:MODEL@URL)")
    card = fit.card_for(model)  # the evaluated model's card: per-benchmark output budgets
    plans: list = []
    for e in entries:
        n = limit if limit is not None else e.limit
        if (planner := plugin_for(e.name)) is not None:
            plans.append(planner(e.name, data_overrides.get(e.name), data_dirs, n, generation))
            continue
        bench = benches[e.name]
        loaded = load_rows(e.name, bench.spec.data, data_overrides.get(e.name), data_dirs)
        bench.data_source = loaded.source  # benchmarks with more than rows (τ²'s databases and policy) read it
        try:
            samples = bench.samples(loaded.rows)
        except (KeyError, TypeError, ValueError) as ex:
            raise DataError(
                f"{e.name}: data at {loaded.source.get('path') or loaded.source.get('id')} does not have the "
                f"upstream schema ({type(ex).__name__}: {ex}); check the file or the --data path"
            ) from None
        if not samples:
            raise DataError(f"{e.name}: no samples in {loaded.source.get('path') or loaded.source.get('id')}")
        ids = [s.id for s in samples]
        if len(set(ids)) != len(ids):
            raise DataError(f"{e.name}: duplicate sample ids in the data; the upstream ids must be unique")
        if n is not None:
            samples = samples[:n]
        shard_info = None
        if shard is not None:
            shard_info = shard_manifest([s.id for s in samples], *shard)
            samples = select_shard(samples, *shard)
            if not samples:
                continue  # fewer samples than shards: this shard holds none of this benchmark
        images_per_prompt = _check_prompts(bench, samples, loaded.source)
        params = bench.spec.generation.merged(suite_generation, e.generation, model.generation, generation)
        params, budget = fit.budgeted(e.name, bench.spec.options, params, card, explicit=generation)
        plans.append(
            BenchPlan(bench, samples, repeats or e.repeats or bench.spec.repeats, params, loaded.source,
                      shard=shard_info, budget=budget, images_per_prompt=images_per_prompt)
        )
    if not plans and shard is not None:  # an empty run directory: `harness merge` takes it as contributing nothing
        print(f"note: shard {shard[0]}/{shard[1]} holds no samples (every benchmark has {shard[0]} or fewer)",
              file=sys.stderr)
    return plans


def _check_prompts(bench: Benchmark, samples: list[Sample], source: dict[str, Any]) -> int:
    """Every sample this run will ask must make a prompt, checked before any request: a row missing a field the
    benchmark reads, or a template naming an unknown field, fails here with the sample's id, not mid-run (and not at
    the same row on every resume). Returns the most images one prompt carries."""
    most = 0
    for s in samples:
        try:
            most = max(most, images.count(bench.prompt(s, 0).messages))
        except HarnessError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, AttributeError) as ex:
            where = source.get("path") or source.get("id")
            raise DataError(
                f"{bench.name}: sample {s.id!r} (data at {where}) cannot make a prompt ({type(ex).__name__}: {ex}): "
                f"the row lacks a field the benchmark reads, or the prompt template in {bench.spec.name}.yaml names "
                "a field it does not fill; fix the data or the template"
            ) from None
    return most


def default_run_id(model: ModelSpec, label: str, generation: GenerationParams | None) -> str:
    """Stable for the same command, so that re-running it resumes into the same directory."""
    ident = json.dumps(
        {"engine": model.engine, "model": model.model, "served": model.served_model_name,
         "gen": generation.model_dump(exclude_unset=True) if generation else None, "label": label},
        sort_keys=True,
    )
    slug = "".join(c if c.isalnum() or c in "-_." else "-" for c in f"{model.display_name}__{label}")[-80:]
    return f"{slug.strip('-')}__{hashlib.sha256(ident.encode()).hexdigest()[:8]}"


# ------------------------------------------------------------------------------------------------- manifest


def _file_sha(path: str) -> str | None:
    p = Path(path)
    return hashlib.sha256(p.read_bytes()).hexdigest() if p.is_file() else None


# `vllm serve` arguments that change what the model answers (others, e.g. --gpu-memory-utilization or
# --max-num-seqs, change only how it is served and may differ between a run and its resumption)
ANSWER_FLAGS = ("--chat-template", "--chat-template-content-format", "--default-chat-template-kwargs",
                "--generation-config", "--override-generation-config", "--dtype", "--quantization", "--revision",
                "--tokenizer", "--tokenizer-revision", "--tokenizer-mode", "--kv-cache-dtype", "--hf-overrides",
                "--enable-auto-tool-choice", "--tool-parser-plugin", "--reasoning-parser", "--tool-call-parser",
                "--served-model-name", "--max-model-len", "--enable-reasoning", "--lora-modules",
                "--speculative-config", "--logits-processor-pattern")


def answer_args(args: list[str]) -> dict[str, str | None]:
    """The answer-changing flags among extra engine arguments, with their values (a file's sha256 for a chat
    template given as a path)."""
    out: dict[str, str | None] = {}
    i = 0
    while i < len(args):
        a = args[i]
        flag, eq, value = a.partition("=")
        if flag.startswith("--") and not eq and i + 1 < len(args) and not args[i + 1].startswith("--"):
            value, i = args[i + 1], i + 1
        if flag in ANSWER_FLAGS:
            sha = _file_sha(value) if flag == "--chat-template" and value else None
            out[flag] = f"{value} (sha256 {sha})" if sha else (value or None)
        i += 1
    return out


def answers_identity(model: ModelSpec, roles: dict[str, Engine], plans: list) -> dict[str, Any]:
    """Everything that decides how the model answers (not where or how fast it is served): resuming with any of it
    changed would mix two models' answers into one score."""
    out: dict[str, Any] = {
        "engine": model.engine, "model": model.model, "served_model_name": model.served_model_name,
        "gguf_file": model.gguf_file, "dtype": model.dtype if model.engine == "hf" else None,
        "reasoning_parser": model.reasoning_parser, "tool_call_parser": model.tool_call_parser,
        "max_model_len": model.max_model_len, "engine_args": answer_args(list(model.extra_args)) or None,
        "responses_sha256": _file_sha(model.responses) if model.responses else None,
    }
    if any(isinstance(p, BenchPlan) and "user_sim" in p.benchmark.roles for p in plans) and "user_sim" in roles:
        out["user_sim"] = role_identity(roles["user_sim"])
    return out


def bench_manifest(p: BenchPlan) -> dict[str, Any]:
    s = p.benchmark.spec
    return {
        "version": s.version,
        "task_sha256": s.sha256,
        "module": s.module,
        "metric": s.metric,
        "data": p.data_source,
        "samples": len(p.samples),
        "sample_ids_sha256": hashlib.sha256("\n".join(s.id for s in p.samples).encode()).hexdigest(),
        "repeats": p.repeats,
        "items": len(p.items()),
        "seed": s.seed,
        "generation": p.params.model_dump(mode="json"),
        "max_tokens_from": p.budget,
        "scorer": p.scorer,
        "scorer_parts": p.scorer_parts,
        **({"shard": p.shard} if p.shard else {}),
    }


def build_manifest(old: dict | None, plans: list[BenchPlan], plugins: list, model: ModelSpec,
                   engine: Engine | None, opts: RunOptions, answers: dict | None,
                   resumed: dict | None = None) -> dict[str, Any]:
    """The new manifest: entries of benchmarks not in this command are kept (a subset re-run into the same
    directory), `created` is kept, every command is listed, and each resumption with what it found (`resumed`)."""
    old = old or {}
    benchmarks: dict[str, Any] = dict(old.get("benchmarks") or {})
    benchmarks.update({p.name: bench_manifest(p) for p in plans})
    for x in plugins:
        benchmarks[x.name] = x.manifest_entry(opts.out)
    commands = list(old.get("commands") or ([{"argv": old["command"], "time": old.get("created")}]
                                           if old.get("command") else []))
    commands.append({"argv": opts.argv, "time": now()})
    keep_engine = engine is None and old.get("engine")
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": opts.run_id,
        "created": old.get("created") or now(),
        "updated": now(),
        "command": opts.argv,
        "commands": commands,
        **({"resumed": [*(old.get("resumed") or []), resumed]} if resumed else
           ({"resumed": old["resumed"]} if old.get("resumed") else {})),
        "harness": {"version": provenance.package_versions().get("harness"), "git": provenance.git_revision()},
        "packages": provenance.package_versions(),
        "hardware": provenance.hardware(),
        "model": old.get("model") if keep_engine else model.public_dict(),
        "engine": old["engine"] if keep_engine else (engine.describe() if engine else {"engine": model.engine}),
        "answers": answers if answers is not None else old.get("answers"),
        "roles": {**(old.get("roles") or {}), **{name: e.describe() for name, e in opts.roles.items()}},
        "thresholds": opts.thresholds.model_dump(),
        "benchmarks": benchmarks,
    }


# settings that must not change between a run and its resumption (the answers would mix)
_PINNED = ("generation", "seed", "shard")


def check_resumable(old: dict | None, plans: list[BenchPlan], answers: dict | None, out: Path) -> None:
    """`answers` is None when nothing will be generated (`harness score`): then only the data must be the same."""
    if not old:
        return
    problems = []
    was = old.get("answers")
    if answers is not None and was:
        problems += [f"{k} was {was.get(k)!r}, now {answers.get(k)!r}" for k in sorted(set(was) | set(answers))
                     if was.get(k) != answers.get(k)]
    elif answers is not None:  # a version-1 manifest: the model and engine are all it pinned
        m = old.get("model") or {}
        if m.get("model") != answers["model"] or m.get("engine") != answers["engine"]:
            problems.append(f"model {m.get('model')!r} via {m.get('engine')} vs now {answers['model']!r} via "
                            f"{answers['engine']}")
    for p in plans:
        prev = (old.get("benchmarks") or {}).get(p.name)
        if not prev:
            continue
        now_ = bench_manifest(p)
        for k in _PINNED if answers is not None else ("shard",):
            a, b = prev.get(k), now_.get(k)
            if isinstance(a, dict) and isinstance(b, dict):
                problems += [f"{p.name}: {k}.{f} was {a.get(f)!r}, now {b.get(f)!r}"
                             for f in sorted(set(a) | set(b)) if a.get(f) != b.get(f)]
            elif a != b:
                problems.append(f"{p.name}: {k} was {a!r}, now {b!r}")
        if prev.get("data", {}).get("sha256") and prev["data"].get("sha256") != now_["data"].get("sha256"):
            problems.append(f"{p.name}: the data file changed (checksum differs)")
    if problems:
        raise ConfigError(
            f"{out} holds answers made with other settings, which would mix into one score:\n  - "
            + "\n  - ".join(problems)
            + "\nUse a new --out directory (or delete the old one) to start over. (A changed scorer, judge or task "
            "YAML that only changes scoring is fine: it re-scores.)"
        )


def check_prompts(plans: list[BenchPlan], store: RunStore, out: Path) -> None:
    """Every stored generation must answer the prompt the benchmark builds now."""
    changed: dict[str, list[str]] = {}
    for p in plans:
        for s, rep in p.items():
            g = store.records.generations.get((p.name, s.id, rep))
            if g is not None and g.error is None and g.prompt_sha256 and \
                    g.prompt_sha256 != prompt_sha256(p.benchmark.prompt(s, rep)):
                changed.setdefault(p.name, []).append(f"{s.id}#{rep}")
    if changed:
        raise ConfigError(
            f"{out} holds answers to prompts that differ from the prompts built now (the prompt template, the data "
            "or the option order changed):\n  - "
            + "\n  - ".join(f"{b}: {len(v)} items, e.g. {', '.join(v[:3])}" for b, v in changed.items())
            + "\nUse a new --out directory for the new prompts.")


# ------------------------------------------------------------------------------------------------- run


def role_callables(engine: Engine | None, roles: dict[str, Engine]) -> Roles:
    async def no_model(_request):
        raise EngineError("scoring asked the model under test; only generation may")

    return Roles(model=engine.generate if engine else no_model, **{n: e.generate for n, e in roles.items()})


async def run_async(all_plans: list, model: ModelSpec, engine: Engine | None, opts: RunOptions,
                    old_manifest: dict | None = None) -> dict:
    """Generate what is missing (when `engine` is given), score what lacks a current verdict, write the summary.
    With `engine=None` nothing is generated (`harness score`)."""
    from harness.generate import generate

    plans = [p for p in all_plans if isinstance(p, BenchPlan)]
    plugins = [p for p in all_plans if not isinstance(p, BenchPlan)]
    store = RunStore(opts.out)
    fresh = not opts.out.exists()  # made by this command: removed again if it fails before writing anything
    records = store.open()
    try:
        for note in store.notes:
            print(f"note: {note}", file=sys.stderr)
        old = store.read_manifest() or old_manifest
        answers = answers_identity(model, opts.roles, plans) if engine is not None else None
        check_resumable(old, plans, answers, opts.out)
        check_prompts(plans, store, opts.out)
        judge = role_identity(opts.roles.get("judge"))
        for p in plans:
            p.scorer, p.scorer_parts = fingerprint(p.benchmark, judge)
            if judge is None and "judge" in p.benchmark.roles and old:  # `harness score` without --judge
                prev = (old.get("benchmarks") or {}).get(p.name) or {}
                p.scorer, p.scorer_parts = prev.get("scorer"), prev.get("scorer_parts")

        gen_todo = [(p, s, rep) for p in plans for s, rep in p.items()
                    if (g := records.generations.get((p.name, s.id, rep))) is None or g.error is not None]
        score_todo = [(p, s, rep) for p in plans for s, rep in p.items()
                      if (g := records.generations.get((p.name, s.id, rep))) is not None and g.error is None
                      and ((v := records.score_for((p.name, s.id, rep), p.scorer)) is None or v.error is not None)]
        if engine is None and gen_todo:
            print(f"note: {len(gen_todo)} items have no generation yet; `harness run` generates them",
                  file=sys.stderr)
            gen_todo = []
        unscorable: dict[str, int] = {}
        for p, _, _ in score_todo:
            if p.scorer is None or any(r not in opts.roles for r in p.benchmark.roles if r == "judge"):
                unscorable[p.name] = unscorable.get(p.name, 0) + 1
        if unscorable:
            raise ConfigError("scoring needs a judge: " + ", ".join(f"{b} has {n} items to score" for b, n in
                                                                      unscorable.items()) + "; give --judge")
        plugins_todo = [x for x in plugins if x.pending(opts.out)] if engine is not None else []
        resumed = resume_state(plans, records, gen_todo, score_todo) if old and engine is not None else None
        if resumed:
            print(resume_line(opts.out, resumed), file=sys.stderr)
        if engine is not None and hasattr(engine, "images_per_prompt"):  # a vLLM server started to take images
            engine.images_per_prompt = max((p.images_per_prompt for p in plans), default=0)

        failure: HarnessError | None = None
        started: list[Engine] = []

        def write_summary() -> dict:
            summary = summarize_run(store.read_manifest() or {}, store.records, opts.thresholds,
                                    keys={p.name: p.item_keys() for p in plans},
                                    metrics={p.name: p.benchmark.metrics for p in plans},
                                    model=model.display_name if engine is not None else None)
            store.write_summary(summary)
            return summary

        try:
            needed: list[tuple[str | None, Engine]] = []
            if engine is not None and (gen_todo or any(x.needs_engine(model) for x in plugins_todo)):
                needed.append((None, engine))
            for name, role in opts.roles.items():  # a role engine only when an item left to do needs it
                todo = (gen_todo + score_todo) if name == "judge" else gen_todo
                if any(_uses(p, name) for p, _, _ in todo):
                    needed.append((name, role))
                elif not any(_uses(p, name) for p in plans):
                    print(f"note: --{name.replace('_', '-')} is not used: no benchmark of this run needs it",
                          file=sys.stderr)
            for name, e in needed:  # a failure to start is raised as is: nothing ran
                try:
                    await e.start(opts.out)
                except BaseException as ex:
                    try:  # what it opened before failing (an HTTP session, a server process)
                        await e.close()
                    except Exception:  # noqa: BLE001 - never hide the original error
                        pass
                    if name is not None and isinstance(ex, EngineError):  # blame the role's option, not the model's
                        flag = f"--{name.replace('_', '-')}"
                        raise EngineError(f"{flag}: {str(ex).replace('--base-url', flag)}") from None
                    raise
                started.append(e)
            manifest = build_manifest(old, plans, plugins, model, engine, opts, answers, resumed)
            store.write_manifest(manifest)
            if gen_todo:  # say before generating what cannot fit (each such item is recorded as a context error)
                report = await fit.unfit_items(plans, engine, keys={(p.name, s.id, r) for p, s, r in gen_todo})
                if report is not None or any(p.benchmark.spec.options.get("check_context") for p in plans):
                    for line in fit.unfit_lines(report):
                        print(line, file=sys.stderr)
                if (line := await fit.estimate_line(engine, gen_todo)) is not None:  # long on this machine: say so
                    print(line, file=sys.stderr, flush=True)
            pool = ScorePool(role_callables(engine, opts.roles), store.append_score, opts.score_processes)

            async def feed() -> None:  # stored answers, read back from disk as the pool has room, beside generation
                for p, s, rep in score_todo:
                    await pool.room()
                    pool.submit(p.benchmark, p.scorer, s, p.benchmark.prompt(s, rep),
                                records.generation((p.name, s.id, rep)))

            feeder = asyncio.get_running_loop().create_task(feed())
            try:
                if gen_todo:
                    try:
                        await generate(gen_todo, engine, role_callables(engine, opts.roles), store, pool, opts)
                    except EngineError as e:
                        failure = e
                await feeder
                await pool.join()
            finally:
                feeder.cancel()
                await asyncio.gather(feeder, return_exceptions=True)
                await pool.close()
            for x in plugins_todo if failure is None else []:
                await x.run(model, engine, store, opts.out)
            if plugins_todo:  # what lm-eval resolved once it ran
                manifest["benchmarks"].update({x.name: x.manifest_entry(opts.out) for x in plugins})
                manifest["updated"] = now()
                store.write_manifest(manifest)
        except BaseException:  # interrupted (Ctrl-C, SIGTERM) or failed: the partial summary is still written
            if store.manifest_path.exists():
                try:
                    write_summary()
                except Exception:  # noqa: BLE001 - never hide the original error
                    pass
            raise
        finally:
            for e in reversed(started):
                await e.close()
        summary = write_summary()
        if failure:
            finished = sum(1 for g in store.records.generations.values() if g.error is None)
            raise EngineError(
                f"{failure}\n{finished} finished items are saved in {opts.out}; fix the cause and re-run the same "
                "command to resume"
            )
        return summary
    finally:
        store.close()
        if fresh and not store.manifest_path.exists():
            _remove_unused(opts.out)


def resume_state(plans: list[BenchPlan], records, gen_todo: list, score_todo: list) -> dict[str, Any]:
    """What a command continuing a run found in it and has left, per benchmark: {time, found: {name: answered},
    left: {name: {generate, score}}} (answered: items of this command's plan with a successful generation)."""
    found = {p.name: sum(1 for k in p.item_keys() if (g := records.generations.get(k)) is not None and g.error is None)
             for p in plans}
    left: dict[str, dict[str, int]] = {p.name: {"planned": len(p.items()), "generate": 0, "score": 0} for p in plans}
    for p, _, _ in gen_todo:
        left[p.name]["generate"] += 1
    for p, _, _ in score_todo:
        left[p.name]["score"] += 1
    return {"time": now(), "found": found, "left": left}


def resume_line(out: Path, state: dict[str, Any]) -> str:
    """One line: `resuming DIR: found 12 of 40 items answered (mmlu_pro 10/20, click 2/20); left: 28 to generate, 3
    to score` (a finished benchmark is named as such)."""
    found, left = state["found"], state["left"]
    planned = sum(v["planned"] for v in left.values())
    parts = [f"{n} {found[n]}/{v['planned']}" + (" done" if not v["generate"] and not v["score"] else "")
             for n, v in left.items()]
    gen, sc = sum(v["generate"] for v in left.values()), sum(v["score"] for v in left.values())
    todo = ", ".join(x for x in (f"{gen} to generate" if gen else "", f"{sc} to score" if sc else "") if x)
    return (f"resuming {out}: found {sum(found.values())} of {planned} items answered ({', '.join(parts)}); "
            f"left: {todo or 'nothing (re-writing the summary)'}")


def _uses(plan: BenchPlan, role: str) -> bool:
    return role in plan.benchmark.roles or role in plan.benchmark.optional_roles


def _remove_unused(run_dir: Path) -> None:
    """A run directory this command made and left without a manifest (the engine or a server failed to start): removed
    when all it holds is the lock and empty record files, so that a failed start leaves nothing to mistake for a run
    (a server log, or anything else written there, keeps it)."""
    files = list(run_dir.iterdir()) if run_dir.is_dir() else []
    if all(f.is_file() and (f.name == ".lock" or f.stat().st_size == 0) for f in files):
        for f in files:
            f.unlink()
        run_dir.rmdir()


def run(plans: list, model: ModelSpec, engine: Engine | None, opts: RunOptions, old_manifest: dict | None = None) \
        -> dict:
    keys = [k for p in plans if isinstance(p, BenchPlan) for k in p.item_keys()]
    return interruptible(lambda: run_async(plans, model, engine, opts, old_manifest), keys, opts.out, opts.argv)
