"""The `harness` command: parse, call, print."""

from __future__ import annotations

import functools
import json
import os
import sys
from pathlib import Path
from typing import List, Optional

import typer
from pydantic import ValidationError
from rich.console import Console
from typer.core import TyperGroup

try:  # typer 0.2x parses with its own copy of click
    from typer._click.exceptions import UsageError
except ImportError:  # pragma: no cover - an older typer on click itself
    from click.exceptions import UsageError

from harness import config as cfg
from harness.errors import ConfigError, HarnessError, Interrupted

class _OneLineErrors(TyperGroup):
    """Usage errors (a value of the wrong type, an unknown option or command) as one `error:` line, as every other
    bad input is, instead of click's usage block."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except UsageError as e:
            if type(e).__name__ != "NoArgsIsHelpError":  # that one shows the help, as asked
                where = e.ctx.command_path if e.ctx is not None else "harness"
                line = f"error: {e.format_message()} (see `{where} --help`)"
                e.show = lambda file=None: typer.echo(line, err=True)
            raise


# rich_markup_mode=None: help is plain text, so that `ENGINE:MODEL[@URL]` shows as written (Rich markup ate `[@URL]`)
app = typer.Typer(add_completion=False, no_args_is_help=False, help="Sovereign-model benchmark harness.",
                  rich_markup_mode=None, cls=_OneLineErrors)
err = Console(stderr=True)
console = Console()


class _Terminated(KeyboardInterrupt):
    """SIGTERM while a command plans (before the run's own handlers, harness.interrupt, take over)."""


def _terminate_as_interrupt():
    """Until the returned function is called, SIGTERM ends the command as Ctrl-C does (a message, exit 143) instead
    of killing it silently; only in the main thread (signal handlers cannot be set elsewhere)."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return lambda: None

    def on_term(_signum, _frame):
        raise _Terminated()

    old = signal.signal(signal.SIGTERM, on_term)
    return lambda: signal.signal(signal.SIGTERM, old)


# exit codes a scheduler can use (README "Exit codes")
EXIT_OK, EXIT_ERROR, EXIT_INVALID, EXIT_INCOMPLETE = 0, 2, 3, 4


def _fail(e: Exception) -> None:
    from harness.errors import redact

    typer.echo(f"error: {redact(str(e))}", err=True)  # plain: paths stay unwrapped and copyable
    raise typer.Exit(EXIT_ERROR)


def _invalid(e) -> ConfigError:
    """A pydantic ValidationError from a command-line value as one line per bad setting, naming the option."""
    parts = []
    for x in e.errors():
        field = next((str(p) for p in reversed(x.get("loc", ())) if isinstance(p, str)), "value")
        parts.append(f"--{field.replace('_', '-')} {x.get('input')!r}: {x.get('msg', 'invalid')}")
    return ConfigError("; ".join(parts) or str(e))


def _os_error(e: OSError) -> ConfigError:
    """Disk full, a file where a directory belongs, no permission: one line, no traceback."""
    import errno

    where = f" {e.filename}" if e.filename else ""
    hint = {errno.ENOSPC: "free space or give another --out; finished items are saved, re-run to resume",
            errno.EEXIST: "--out must name a directory (it names a file)",
            errno.ENOTDIR: "--out must name a directory (a part of the path is a file)",
            errno.EACCES: "no permission; give another --out"}.get(e.errno or 0, "")
    return ConfigError(f"cannot write{where}: {e.strerror or e}" + (f"; {hint}" if hint else ""))


def _verdict(summary: dict, run_dir: Path) -> None:
    """Exit 0 only when every benchmark is complete and valid; name the others."""
    bad = {n: b.get("invalid_reason") or "invalid" for n, b in summary.get("benchmarks", {}).items()
           if not b.get("valid")}
    dead = {n: r.split("; no scored items")[0] for n, r in bad.items() if r.startswith("every request failed")}
    if dead:  # nothing was answered: a setup error (model name, URL, key), not a score to weigh
        typer.echo(f"error: {'; '.join(f'{n}: {r}' for n, r in dead.items())}. Fix the cause and re-run the same "
                   f"command (failed requests are retried; results so far: {run_dir})", err=True)
        raise typer.Exit(EXIT_ERROR)
    if not summary.get("complete"):
        typer.echo(f"incomplete: {'; '.join(f'{n}: {r}' for n, r in bad.items())}. Re-run the same command to "
                   f"finish (results so far: {run_dir})", err=True)
        raise typer.Exit(EXIT_INCOMPLETE)
    if bad:
        typer.echo(f"invalid: {'; '.join(f'{n}: {r}' for n, r in bad.items())}. The scores are on disk but must not "
                   "be reported as valid", err=True)
        raise typer.Exit(EXIT_INVALID)


def _kv(pairs: list[str], what: str) -> dict[str, str]:
    d = {}
    for p in pairs:
        if "=" not in p:
            raise ConfigError(f"{what} takes NAME=VALUE, got {p!r}")
        k, v = p.split("=", 1)
        d[k.strip()] = v.strip()
    return d


_DATA_ONE = ("NAME=PATH: local data for this benchmark (as `harness run` takes it; a bare PATH still works, "
             "deprecated)")


def _one_data(data: str | None, benchmark: str) -> Path | None:
    """`--data` of a one-benchmark command: NAME=PATH as `harness run` takes it; the older bare PATH still works."""
    if data is None:
        return None
    name, eq, path = data.partition("=")
    if eq and "/" not in name and name.strip():
        if name.strip() != benchmark:
            raise ConfigError(f"--data {data!r} names {name.strip()}, but --benchmark is {benchmark}; give "
                              f"--data {benchmark}=PATH")
        return Path(path.strip())
    typer.echo(f"note: --data PATH is deprecated; write --data {benchmark}={data} (as `harness run` takes it)",
               err=True)
    return Path(data)


def _generation(max_tokens, temperature, top_p, gen: list[str]) -> cfg.GenerationParams | None:
    extra = {}
    for k, v in _kv(gen, "--gen").items():
        try:
            extra[k] = json.loads(v)
        except json.JSONDecodeError:
            extra[k] = v
    fields = {k: v for k, v in (("max_tokens", max_tokens), ("temperature", temperature), ("top_p", top_p))
              if v is not None}
    top = {k: extra.pop(k) for k in list(extra) if k in cfg.GenerationParams.model_fields and k != "extra"}
    if not (fields or top or extra):
        return None
    return cfg.GenerationParams(**fields, **top, extra=extra)


@app.command()
def run(
    suite: Optional[str] = typer.Option(None, help="suite name (tasks/suites) or a suite YAML file"),
    benchmarks: Optional[str] = typer.Option(None, help="comma-separated benchmark names"),
    team: Optional[str] = typer.Option(None, help="a team (tasks/teams) or team YAML: run its individual benchmarks"),
    model: Optional[str] = typer.Option(None, help="model id or path (default: the embedded SmolLM2-135M)"),
    model_config: Optional[Path] = typer.Option(None, help="model spec YAML (see tasks/models/)"),
    engine: Optional[str] = typer.Option(None, help="vllm | openai | hf | replay"),
    name: Optional[str] = typer.Option(None, help="display name for the model in results"),
    base_url: Optional[str] = typer.Option(None, help="openai engine: endpoint, e.g. http://host:8000/v1"),
    api_key_env: Optional[str] = typer.Option(None, help="variable holding the API key (never stored)"),
    served_model_name: Optional[str] = typer.Option(None, help="the model name the server answers to (vLLM "
                                                               "--served-model-name; default: --model)"),
    tp: Optional[int] = typer.Option(None, "--tp", help="vllm: tensor parallel size"),
    dp: Optional[int] = typer.Option(None, "--dp", help="vllm: data parallel size"),
    pp: Optional[int] = typer.Option(None, "--pp", help="vllm: pipeline parallel size"),
    max_model_len: Optional[int] = typer.Option(None, help="context length in tokens (vLLM --max-model-len; default: "
                                                           "what the server or the model reports)"),
    reasoning_parser: Optional[str] = typer.Option(None, help="vLLM --reasoning-parser of the model (e.g. qwen3, "
                                                              "deepseek_r1): reasoning is kept apart from the answer"),
    tool_call_parser: Optional[str] = typer.Option(None, help="vLLM --tool-call-parser of the model (e.g. hermes); "
                                                              "tau2_telecom needs one"),
    vllm_arg: List[str] = typer.Option([], help="extra `vllm serve` arguments, split as a shell splits them "
                                       "(repeatable; quote a JSON value inside the option)"),
    vllm_executable: Optional[str] = typer.Option(None, help="command that starts vLLM (default: vllm)"),
    gpus: Optional[str] = typer.Option(None, help="vllm: the model server's GPUs (indices, e.g. 0-5); with "
                                       "--judge-gpus / --user-sim-gpus each server gets its own"),
    judge_gpus: Optional[str] = typer.Option(None, help="a vLLM judge started here (--judge vllm:M): its GPUs, e.g. "
                                                        "6,7"),
    user_sim_gpus: Optional[str] = typer.Option(None, help="a vLLM user simulator started here: its GPUs"),
    startup_timeout: Optional[float] = typer.Option(None, help="seconds to wait for the server to be healthy"),
    responses: Optional[Path] = typer.Option(None, help="replay engine: JSONL of saved responses"),
    concurrency: Optional[int] = typer.Option(None, help="requests in flight (default: a vLLM server the harness "
                                              "starts: its max_num_seqs × data-parallel size plus a margin; "
                                              "another server: 256)"),
    request_timeout: Optional[float] = typer.Option(None, help="seconds with no data from the server before a "
                                                    "request attempt fails and is retried (an idle timeout, not a "
                                                    "total: a long streamed answer is never cut; default 3600)"),
    max_retries: Optional[int] = typer.Option(None, help="retries of a failed request (default 5)"),
    stream: Optional[bool] = typer.Option(None, "--stream/--no-stream", help="stream completions (default); "
                                          "--no-stream for servers that cannot"),
    repeats: Optional[int] = typer.Option(None, help="repeats per sample (default: per benchmark)"),
    limit: Optional[int] = typer.Option(None, help="first N samples of each benchmark"),
    max_tokens: Optional[int] = typer.Option(None, help="output token budget per answer, reasoning included (default: "
                                                        "per benchmark, from its task YAML)"),
    temperature: Optional[float] = typer.Option(None, help="sampling temperature, 0 = greedy (default: per benchmark / "
                                                           "model spec)"),
    top_p: Optional[float] = typer.Option(None, help="nucleus sampling top-p (default: per benchmark / model spec)"),
    gen: List[str] = typer.Option([], help="generation KEY=VALUE (JSON value), e.g. min_p=0"),
    out: Optional[Path] = typer.Option(None, help="run directory (default: results/<run id>)"),
    data_dir: List[Path] = typer.Option([], help="local data root (repeatable)"),
    data: List[str] = typer.Option([], help="NAME=PATH: local data for one benchmark (repeatable)"),
    max_error_rate: Optional[float] = typer.Option(None, help="a score is INVALID when more than this share of items "
                                                              "failed (0-1; default 0.02)"),
    max_unparsed_rate: Optional[float] = typer.Option(None, help="a score is INVALID when more than this share of "
                                                                 "answers has no readable answer (0-1; default 0.10)"),
    max_truncation_rate: Optional[float] = typer.Option(None, help="a score is INVALID when more than this share of "
                                                                   "answers hit the token budget (0-1; default 0.10)"),
    judge: Optional[str] = typer.Option(None, help="judge engine: ENGINE:MODEL[@URL] or a model spec YAML"),
    judge_cache: Optional[Path] = typer.Option(None, help="judge cache file (default: RUN_DIR/judge_cache.jsonl)"),
    user_sim: Optional[str] = typer.Option(None, help="user-simulator engine: ENGINE:MODEL[@URL] or a YAML"),
    judge_api_key_env: Optional[str] = typer.Option(None, help="variable holding the judge's API key (default: the "
                                                    "judge YAML's api_key_env, else OPENAI_API_KEY; never stored)"),
    user_sim_api_key_env: Optional[str] = typer.Option(None, help="variable holding the user simulator's API key"),
    max_items: Optional[int] = typer.Option(None, help=f"the most work items (samples x repeats) this run may plan "
                                            f"(default {cfg.MAX_ITEMS:,}; larger runs must say so)"),
    protocol: Optional[str] = typer.Option(None, help="stage1: every benchmark 5 times, averaged (the programme's "
                                           "protocol)"),
    shard: Optional[str] = typer.Option(None, help="I/N: run only shard I (0-based) of N: samples I, I+N, I+2N, ... "
                                        "of each benchmark (array jobs; `harness merge` combines the shards)"),
    progress: bool = typer.Option(True, help="show a progress bar"),
):
    """Run benchmarks against a model. With no arguments: the `smoke` suite on the embedded model on CPU."""
    from harness import launch, runner
    from harness.engine import make_engine
    from harness.engine.batch import concurrency_for
    from harness.jobs.shard import parse_shard
    from harness.report.terminal import scorecard

    restore = _terminate_as_interrupt()
    try:
        spec = launch.model_spec(model_config, {
            "model": model, "engine": engine, "name": name, "base_url": base_url, "api_key_env": api_key_env,
            "served_model_name": served_model_name, "tensor_parallel_size": tp, "data_parallel_size": dp,
            "pipeline_parallel_size": pp, "max_model_len": max_model_len, "reasoning_parser": reasoning_parser,
            "tool_call_parser": tool_call_parser, "startup_timeout": startup_timeout, "concurrency": concurrency,
            "request_timeout": request_timeout, "max_retries": max_retries, "stream": stream,
            "responses": str(responses) if responses else None,
            "executable": launch.split_args([vllm_executable], "--vllm-executable") if vllm_executable else None,
            "extra_args": launch.split_args(vllm_arg, "--vllm-arg") or None,
            "gpus": launch.parse_gpus(gpus),
        })
        entries, suite_gen, label = launch.entries(suite, benchmarks, team)
        generation = _generation(max_tokens, temperature, top_p, gen)
        suite_gen = launch.embedded_settings(spec, suite_gen, generation)  # the embedded model: smoke settings
        repeats = launch.repeats_for(protocol, repeats)
        shard_ix = parse_shard(shard) if shard else None
        thresholds = cfg.Thresholds(**{k: v for k, v in (
            ("max_error_rate", max_error_rate), ("max_unparsed_rate", max_unparsed_rate),
            ("max_truncation_rate", max_truncation_rate)) if v is not None})
        plan = functools.partial(
            runner.plan_benchmarks, model=spec, repeats=repeats, limit=limit, generation=generation,
            suite_generation=suite_gen, data_overrides={k: Path(v) for k, v in _kv(data, "--data").items()},
            data_dirs=data_dir, roles=tuple(r for r, v in (("judge", judge), ("user_sim", user_sim)) if v),
            shard=shard_ix, plugins=launch.plugins())
        plans = launch.plan_team(entries, plan, team) if team else plan(entries)
        launch.check_items(plans, max_items)
        if out is not None and out.exists() and not out.is_dir():
            raise ConfigError(f"--out {out} is a file; give a run directory (new or an earlier run's)")
        if shard_ix:
            label += f"__shard{shard_ix[0]}of{shard_ix[1]}"
        run_dir = out or Path(os.environ.get("HARNESS_RESULTS", "results")) / runner.default_run_id(
            spec, label, generation)
        # every server this run starts, planned and checked before any of them starts
        servers = launch.plan_servers(spec, launch.role_specs(judge, user_sim, {
            "judge": launch.parse_gpus(judge_gpus, "--judge-gpus"),
            "user_sim": launch.parse_gpus(user_sim_gpus, "--user-sim-gpus")},
            {"judge": judge_api_key_env, "user_sim": user_sim_api_key_env}), plans)
        spec = servers.pop("model")
        err.print(f"run directory: {run_dir}")
        opts = runner.RunOptions(out=run_dir, run_id=run_dir.name, thresholds=thresholds, workers=concurrency_for(spec)[0],
                                 progress=launch.progress(progress),
                                 roles=launch.role_engines(judge, judge_cache, user_sim, run_dir, servers))
        summary = runner.run(plans, spec, make_engine(spec), opts)
    except Interrupted as e:  # SIGINT / SIGTERM: what is saved and the command that resumes
        typer.echo(str(e), err=True)
        raise typer.Exit(e.code)
    except HarnessError as e:
        _fail(e)
    except ValidationError as e:
        _fail(_invalid(e))
    except OSError as e:
        _fail(_os_error(e))
    except KeyboardInterrupt as e:  # before the run started (planning, loading data): nothing was asked yet
        name, code = ("SIGTERM", 143) if isinstance(e, _Terminated) else ("SIGINT", 130)
        err.print(f"interrupted ({name}) before any request: finished items, if any, are saved; re-run the same "
                  "command to resume")
        raise typer.Exit(code)
    finally:
        restore()
    scorecard(summary, console)
    console.print(f"results: {run_dir}/summary.json")
    if launch.embedded(spec):  # the first run most people make: say what it shows and what to run next
        from harness.report.terminal import embedded_note

        embedded_note(summary, console)
    _verdict(summary, run_dir)


@app.command("score")
def score(
    run_dir: Path = typer.Argument(..., help="a run directory"),
    judge: Optional[str] = typer.Option(None, help="judge engine for judged benchmarks: ENGINE:MODEL[@URL] or YAML "
                                        "(default: keep the verdicts of the judge the run used)"),
    judge_cache: Optional[Path] = typer.Option(None, help="judge cache file (default: RUN_DIR/judge_cache.jsonl)"),
    benchmarks: Optional[str] = typer.Option(None, help="comma-separated subset of the run's benchmarks"),
    data_dir: List[Path] = typer.Option([], help="local data root (repeatable)"),
    data: List[str] = typer.Option([], help="NAME=PATH: local data for one benchmark (repeatable)"),
):
    """Re-score a run's stored generations in place with the current scorers; the model is never asked."""
    from harness.rescore import rescore_run
    from harness.report.terminal import scorecard

    try:
        summary = rescore_run(run_dir, judge=judge, judge_cache=judge_cache,
                              benchmarks=[b.strip() for b in benchmarks.split(",")] if benchmarks else None,
                              data_dirs=data_dir, data={k: Path(v) for k, v in _kv(data, "--data").items()})
    except HarnessError as e:
        _fail(e)
    scorecard(summary, console)
    console.print(f"results: {run_dir / 'summary.json'}")
    _verdict(summary, run_dir)


@app.command("score-responses")
def score_responses(
    benchmark: str = typer.Option(..., help="benchmark name"),
    responses: Path = typer.Option(..., help='JSONL: {"sample_id": "...", "response": "...", "repeat": 0}'),
    out: Path = typer.Option(..., help="run directory to write the records and summary.json"),
    data_dir: List[Path] = typer.Option([], help="local data root (repeatable)"),
    data: Optional[str] = typer.Option(None, help=_DATA_ONE),
    name: str = typer.Option("responses", help="model name to record"),
    judge: Optional[str] = typer.Option(None, help="judge engine for judged benchmarks: ENGINE:MODEL[@URL] or YAML"),
    judge_cache: Optional[Path] = typer.Option(None, help="judge cache file (default: OUT/judge_cache.jsonl)"),
    judge_api_key_env: Optional[str] = typer.Option(None, help="variable holding the judge's API key"),
):
    """Score saved responses without a model: they are imported as generation records, then scored as a run is."""
    from harness.report.terminal import scorecard
    from harness.responses import score_responses as score

    try:
        summary = score(benchmark, responses, out, data=_one_data(data, benchmark), data_dirs=data_dir, name=name,
                        judge=judge, judge_cache=judge_cache, judge_api_key_env=judge_api_key_env)
    except HarnessError as e:
        _fail(e)
    except OSError as e:
        _fail(_os_error(e))
    scorecard(summary, console)
    console.print(f"results: {out / 'summary.json'}")
    _verdict(summary, out)


@app.command("judge-agreement")
def judge_agreement(
    benchmark: str = typer.Option(..., help="a judged benchmark (hle, aa_lcr)"),
    responses: Path = typer.Option(..., help="JSONL of responses, as for score-responses"),
    judge: str = typer.Option(..., help="first judge: ENGINE:MODEL[@URL] or YAML"),
    judge_b: str = typer.Option(..., help="second judge"),
    out: Path = typer.Option(..., help="directory for both scorings and agreement.json"),
    data: Optional[str] = typer.Option(None, help=_DATA_ONE),
    data_dir: List[Path] = typer.Option([], help="local data root (repeatable)"),
):
    """Score the same responses with two judges; report percent agreement and Cohen's kappa."""
    from harness.responses import judge_agreement as agreement

    try:
        result = agreement(benchmark, responses, out, judge, judge_b, data=_one_data(data, benchmark),
                           data_dirs=data_dir)
    except HarnessError as e:
        _fail(e)
    pct = "-" if result["agreement"] is None else f"{result['agreement']:.1f}%"
    kappa = "-" if result["cohen_kappa"] is None else f"{result['cohen_kappa']:.3f}"
    console.print(f"{benchmark}: {result['items']} items judged by both; agreement {pct}, Cohen's kappa {kappa}; "
                  f"{result['not_compared']} not compared (judge errors)")
    _write_json(out / "agreement.json", result)


@app.command("list")
def list_(data_dir: List[Path] = typer.Option([], help="local data root to check (repeatable)"),
          json_out: bool = typer.Option(False, "--json", help="print JSON (every field whole) instead of tables")):
    """Benchmarks and suites with versions, and whether their data is available locally."""
    from rich.table import Table

    from harness.data import availability, data_dirs

    rows = []
    for n in cfg.benchmark_names():
        try:
            s = cfg.load_benchmark_spec(n)
        except HarnessError as e:
            rows.append({"name": n, "error": str(e)})
            continue
        a = availability(n, s.data, data_dirs(data_dir))
        rows.append({"name": n, "version": s.version, "repeats": s.repeats, "data": a.kind,
                     "data_path": str(a.path) if a.path else None, "hub_id": s.data.hf, "revision": s.data.revision})
    suites = [{"name": x.name, "benchmarks": [e.name for e in x.benchmarks], "description": x.description}
              for x in map(cfg.load_suite, cfg.suite_names())]
    if json_out:
        typer.echo(json.dumps({"benchmarks": rows, "suites": suites}, indent=1, ensure_ascii=False))
        return
    t = Table(title="benchmarks")
    for c in ("name", "version", "repeats", "data (local: real / synthetic fixture / none)", "hub id"):
        t.add_column(c, overflow="fold")  # long paths and ids wrap whole, never cut with an ellipsis
    colour = {"real": "green", "fixture": "yellow", "none": "red"}
    for r in rows:
        if "error" in r:
            t.add_row(r["name"], "?", "?", f"[red]{r['error']}[/]", "")
            continue
        desc = {"real": f"real: {r['data_path']}", "fixture": f"synthetic fixture: {r['data_path']}"}.get(r["data"],
                                                                                                        "none")
        t.add_row(r["name"], r["version"], str(r["repeats"]), f"[{colour[r['data']]}]{desc}[/]",
                  f"{r['hub_id'] or '-'}@{(r['revision'] or 'unpinned')[:12]}")
    console.print(t)
    t = Table(title="suites")
    for c in ("name", "benchmarks", "description"):
        t.add_column(c, overflow="fold")
    for x in suites:
        t.add_row(x["name"], ", ".join(x["benchmarks"]), x["description"])
    console.print(t)


@app.command()
def summary(run_dir: Path = typer.Argument(..., help="a run directory")):
    """Print the scorecard of a finished (or partial) run."""
    from harness.report.terminal import scorecard
    from harness.summary import load_summary

    try:
        scorecard(load_summary(run_dir))  # a run that stopped early: computed from its records, marked incomplete
    except HarnessError as e:
        _fail(e)


def _write_json(path: Path, data: dict) -> None:
    from harness.store import atomic_write_json

    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_json(path, data)
    console.print(f"written: {path}")


@app.command()
def points(
    results: List[Path] = typer.Option(..., help="run directories (several: shards or machines, merged)"),
    scheme: str = typer.Option("stage1", help="scheme name (tasks/schemes) or YAML file"),
    team: Optional[str] = typer.Option(None, help="team name (tasks/teams) or YAML file"),
    nia: List[Path] = typer.Option([], help="run directory with the `nia` benchmark"),
    nia_score: Optional[float] = typer.Option(None, help="NIA score 0-100, when computed elsewhere"),
    input: List[str] = typer.Option([], "--input", help="NAME=VALUE for scheme inputs, e.g. aa_index=61.2"),
    target: Optional[str] = typer.Option(None, help="target model (tasks/targets): the probability our total is "
                                         "higher than its published scores give (default: the team's target)"),
    against: List[Path] = typer.Option([], help="another team's run directories: the probability our total is "
                                       "higher (repeatable)"),
    against_team: Optional[str] = typer.Option(None, help="the other team's file, for its individual part"),
    resamples: int = typer.Option(2000, help="bootstrap replicates for the CIs"),
    seed: int = typer.Option(20260101, help="bootstrap seed (recorded in the JSON)"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="where to write the JSON (default: "
                                            "<first results dir>/points-<scheme>.json)"),
):
    """Points under a programme scheme, with every figure's inputs and arithmetic and bootstrap 95% CIs."""
    from harness.report.terminal import points_table
    from harness.scorecard import points as compute

    try:
        values = {k: float(v) for k, v in _kv(input, "--input").items()}
        result = compute(results, scheme, team, nia or None, nia_score, values, target=target, against=against,
                         against_team=against_team, resamples=resamples, seed=seed)
    except (HarnessError, ValueError) as e:
        _fail(e)
    points_table(result, console)
    _write_json(json_out or results[0] / f"points-{result['scheme']}.json", result)


@app.command()
def compare(
    runs: Optional[List[Path]] = typer.Argument(None, help="two run directories RUN_A RUN_B: B − A item by item "
                                                "(paired test, flips)"),
    results: List[Path] = typer.Option([], help="with --target: run directories (merged)"),
    target: Optional[str] = typer.Option(None, help="target model (tasks/targets) or YAML file: ours against its "
                                         "published scores (not paired: a table has no items)"),
    benchmarks: Optional[str] = typer.Option(None, help="RUN_A RUN_B: only these benchmarks (comma-separated)"),
    resamples: int = typer.Option(10_000, help="RUN_A RUN_B: bootstrap resamples"),
    seed: int = typer.Option(20260101, help="RUN_A RUN_B: bootstrap seed (recorded in the JSON)"),
    json_out: Optional[Path] = typer.Option(None, "--json", help="default: RUN_B/compare-<RUN_A>.json, or "
                                            "<first results dir>/compare-<target>.json"),
):
    """Two runs item by item (harness compare RUN_A RUN_B: difference, paired 95% CI, McNemar or paired bootstrap,
    flips), or ours against a target model's published scores (--results DIR --target NAME)."""
    from harness.report.terminal import compare_table, paired_table
    from harness.scorecard import comparison
    from harness.scoring.paired import compare_runs

    runs = runs or []
    try:
        if target is None and (results or len(runs) != 2):
            raise ConfigError("give two run directories (harness compare RUN_A RUN_B) or run directories and a "
                              "target (harness compare --results DIR --target NAME)")
        if target is None:
            result = compare_runs(runs[0], runs[1], [b.strip() for b in benchmarks.split(",")] if benchmarks
                                  else None, resamples, seed)
        else:
            result = comparison([*results, *runs], target)
    except HarnessError as e:
        _fail(e)
    if target is None:
        paired_table(result, console)
        _write_json(json_out or runs[1] / f"compare-{Path(runs[0]).name}.json", result)
        return
    compare_table(result, console)
    _write_json(json_out or [*results, *runs][0] / f"compare-{result['target']}.json", result)


from harness.report.commands import register as _register_report  # noqa: E402

_register_report(app)


from harness.jobs.commands import register as _register_jobs  # noqa: E402

_register_jobs(app)


def main() -> None:  # pragma: no cover
    app(prog_name="harness")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
