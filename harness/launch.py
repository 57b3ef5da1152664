"""Turning `harness run` options into a run: the model spec, the benchmark entries, the protocol, the extra roles.
The CLI parses; this decides; the runner runs."""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Callable

from harness import config as cfg
from harness.engine import Engine, make_engine
from harness.errors import ConfigError, DataError

PROTOCOLS = {"stage1": 5}  # the programme's protocols: every benchmark run this many times, averaged


def model_spec(model_config: Path | None, overrides: dict[str, Any]) -> cfg.ModelSpec:
    """A model spec YAML (or the embedded default) with command-line options on top, validated."""
    spec = cfg.load_model_spec(model_config) if model_config else cfg.ModelSpec()
    spec = spec.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    spec = cfg.ModelSpec(**spec.model_dump())
    if spec.engine == "replay" and not spec.responses:
        raise ConfigError("--engine replay needs --responses FILE")
    return spec


def check_items(plans: list, max_items: int | None) -> int:
    """The run's work items (samples x repeats over every benchmark), refused above `max_items` (default
    cfg.MAX_ITEMS) before anything starts: `--repeats 5000` on a large suite is a typo, not 60 million requests."""
    cap = cfg.MAX_ITEMS if max_items is None else max_items
    if cap < 1:
        raise ConfigError(f"--max-items {max_items}: must be at least 1")
    per = {}
    for p in plans:
        samples, keys = getattr(p, "samples", None), getattr(p, "keys", None)
        if samples is None:
            continue  # an entry another tool runs (lm-eval) counts its own
        per[p.name] = len(keys) if keys is not None else len(samples) * p.repeats
    total = sum(per.values())
    if total > cap:
        big = ", ".join(f"{n} {c:,}" for n, c in sorted(per.items(), key=lambda x: -x[1])[:3])
        raise ConfigError(f"this run plans {total:,} work items ({big}), more than {cap:,}; check --repeats and "
                          f"--limit, or allow it with --max-items {total}")
    return total


def split_args(values: list[str], flag: str = "--vllm-arg") -> list[str]:
    """Command-line arguments from option values, split as a shell splits them: a quoted JSON value stays one
    argument (`--default-chat-template-kwargs '{"enable_thinking": false}'`)."""
    out: list[str] = []
    for v in values:
        try:
            out += shlex.split(v)
        except ValueError as e:
            raise ConfigError(f"{flag} {v!r}: {e} (quote it as a shell would)") from None
    return out


def entries(suite: str | None, benchmarks: str | None, team: str | None = None
            ) -> tuple[list[cfg.SuiteEntry], cfg.GenerationParams | None, str]:
    """(benchmark entries, the suite's generation settings, a label for the run id). `team`: the team's individual
    benchmarks (tasks/teams); one the harness cannot run is named with the reason and left out."""
    if sum(x is not None for x in (suite, benchmarks, team)) > 1:
        raise ConfigError("give one of --suite, --benchmarks or --team")
    if team:
        return team_entries(team), None, "team-" + Path(team).stem
    if benchmarks:
        es = [cfg.SuiteEntry(name=b.strip()) for b in benchmarks.split(",") if b.strip()]
        return es, None, "+".join(e.name for e in es)
    s = cfg.load_suite(suite or "smoke")
    return s.benchmarks, s.generation, s.name


def plan_team(entries: list[cfg.SuiteEntry], plan: Callable[[list[cfg.SuiteEntry]], list], team: str) -> list:
    """A team's benchmarks planned one by one: one whose data cannot be had here (DataError) is named with the reason
    and left out, the others run (`harness points --team` names it as missing, never as zero)."""
    import sys

    plans, skipped = [], []
    for e in entries:
        try:
            plans += plan([e])
        except DataError as ex:
            skipped.append(f"{e.name} ({ex})")
            print(f"note: team {Path(team).stem}: not run: {e.name}: {ex}", file=sys.stderr)
    if not plans:
        raise DataError(f"team {team}: none of its runnable benchmarks has its data here: " + "; ".join(skipped))
    return plans


def team_entries(team: str) -> list[cfg.SuiteEntry]:
    """The team's individual benchmarks that this harness can run; the others are named on stderr with the reason
    (`harness points --team` names them again as missing, never as zero)."""
    import sys

    from harness.scoring.teams import load_team

    t = load_team(team)
    items = t.get("individual") or []
    skipped = [f"{i['benchmark']} ({i['not_runnable']})" for i in items if i.get("not_runnable")]
    for line in skipped:
        print(f"note: team {t.get('team') or team}: not run: {line}", file=sys.stderr)
    unnamed = (t.get("individual_count") or len(items)) - len(items)
    if unnamed > 0:
        print(f"note: team {t.get('team') or team}: {unnamed} individual benchmark(s) not named in the team file",
              file=sys.stderr)
    runnable = [cfg.SuiteEntry(name=i["benchmark"]) for i in items if not i.get("not_runnable")]
    if not runnable:
        raise ConfigError(f"team {team}: none of its individual benchmarks can be run here"
                          + (f" ({'; '.join(skipped)})" if skipped else " (the team file names none)"))
    return runnable


def embedded(spec: cfg.ModelSpec) -> bool:
    """Whether this run is on the embedded SmolLM2-135M (the default model: a plumbing check, not a score)."""
    from harness.engine.hf import DEFAULT_MODEL

    return spec.engine == "hf" and spec.model == DEFAULT_MODEL


def embedded_settings(spec: cfg.ModelSpec, suite_generation: cfg.GenerationParams | None,
                      generation: cfg.GenerationParams | None) -> cfg.GenerationParams | None:
    """The suite-level settings for this run. The embedded SmolLM2-135M is a plumbing check on CPU: with no
    generation settings from the command line, the suite or its model spec, it gets the smoke suite's (greedy, a
    short budget) instead of the benchmarks' own (up to tens of thousands of tokens at temperature 0.6: hours on
    two cores, past its 8,192-token context), and a note says so."""
    import sys

    from harness.engine.hf import DEFAULT_MODEL

    if (spec.engine != "hf" or spec.model != DEFAULT_MODEL or generation is not None
            or suite_generation is not None or spec.generation != cfg.GenerationParams()):
        return suite_generation
    smoke = cfg.load_suite("smoke").generation
    if smoke is None:
        return None
    shown = ", ".join(f"{k} {v}" for k, v in smoke.model_dump(exclude_none=True, exclude={"extra"}).items())
    print(f"note: the embedded {DEFAULT_MODEL} is a plumbing check on CPU: it answers with the smoke suite's "
          f"settings ({shown}), not each benchmark's own; give --max-tokens, --temperature or --gen to choose",
          file=sys.stderr)
    return smoke


def repeats_for(protocol: str | None, repeats: int | None) -> int | None:
    if protocol is None:
        return repeats
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    if repeats is not None and repeats != PROTOCOLS[protocol]:
        raise ConfigError(f"--protocol {protocol} runs every benchmark {PROTOCOLS[protocol]} times; drop --repeats")
    return PROTOCOLS[protocol]


def plugins() -> dict:
    """Entries run by other tools against the same engine: `lmeval:<task>` (lm-eval), `lmms:<task>` (lmms-eval)."""
    from harness.lmeval.run import PLUGINS
    from harness.lmms.run import PLUGINS as LMMS

    return {**PLUGINS, **LMMS}


def progress(enabled: bool):
    """The progress display the runner reports to (a live bar, or lines in a batch log)."""
    if not enabled:
        return None
    import os

    from harness.report.progress import Progress

    try:  # seconds between lines in a batch log (not a terminal); HARNESS_PROGRESS_EVERY overrides the default 30
        every = float(os.environ.get("HARNESS_PROGRESS_EVERY") or 30)
    except ValueError:
        raise ConfigError(f"HARNESS_PROGRESS_EVERY={os.environ['HARNESS_PROGRESS_EVERY']!r}: give seconds, e.g. 30") \
            from None
    return lambda todo: Progress(True, todo, every=every)


def role_specs(judge: str | None, user_sim: str | None, gpus: dict[str, list[int] | None] | None = None,
               api_key_envs: dict[str, str | None] | None = None) -> dict[str, cfg.ModelSpec]:
    """The judge / user-simulator model specs from their options, with `--judge-gpus` / `--user-sim-gpus` and
    `--judge-api-key-env` / `--user-sim-api-key-env` (the variable holding that server's key)."""
    specs = {}
    for role, text in (("judge", judge), ("user_sim", user_sim)):
        if not text:
            if (api_key_envs or {}).get(role):
                raise ConfigError(f"--{role.replace('_', '-')}-api-key-env goes with --{role.replace('_', '-')}")
            if (gpus or {}).get(role) is not None:
                raise ConfigError(f"--{role.replace('_', '-')}-gpus goes with --{role.replace('_', '-')}")
            continue
        spec = cfg.parse_engine_spec(text, role, (api_key_envs or {}).get(role))
        if (gpus or {}).get(role) is not None:
            if spec.engine != "vllm":
                raise ConfigError(f"--{role.replace('_', '-')}-gpus: the {role} is not a vLLM server the harness "
                                  f"starts (engine {spec.engine})")
            spec = spec.model_copy(update={"gpus": gpus[role]})
        specs[role] = spec
    return specs


def role_engines(judge: str | None, judge_cache: Path | None, user_sim: str | None, run_dir: Path,
                 specs: dict[str, cfg.ModelSpec] | None = None,
                 api_key_envs: dict[str, str | None] | None = None) -> dict[str, Engine]:
    """The extra engines: a judge behind its cache, a user simulator (from `specs` when given: planned GPUs)."""
    if judge_cache and not judge:
        raise ConfigError("--judge-cache goes with --judge")
    specs = specs if specs is not None else role_specs(judge, user_sim, api_key_envs=api_key_envs)
    roles: dict[str, Engine] = {}
    if "judge" in specs:
        from harness.engine.cache import CachedEngine

        spec = specs["judge"]
        roles["judge"] = CachedEngine(make_engine(spec, log_name="judge-server.log"),
                                      judge_cache or run_dir / "judge_cache.jsonl",
                                      model_id=spec.served_model_name or spec.model)
    if "user_sim" in specs:
        roles["user_sim"] = make_engine(specs["user_sim"], log_name="user_sim-server.log")
    return roles


# ---- servers on one node: GPUs and memory shares, checked before anything starts ----

VLLM_DEFAULT_MEMORY_SHARE = 0.92  # vLLM's --gpu-memory-utilization default (0.33.0; tests/test_vllm_contract.py)
# the most that the memory shares of servers on one GPU may add up to: each vLLM server checks at start-up that the
# GPU has its share free, and every process also holds a CUDA context outside its share
MAX_SHARED_MEMORY = 0.95
ROLE_FLAGS = {"model": "--gpus", "judge": "--judge-gpus", "user_sim": "--user-sim-gpus"}


def parse_gpus(text: str | None, flag: str = "--gpus") -> list[int] | None:
    """`0,1,2` or `0-5` or `0-3,6` -> GPU indices."""
    if text is None or str(text).strip() == "":
        return None
    out: list[int] = []
    for part in str(text).split(","):
        part = part.strip()
        try:
            if "-" in part:
                a, b = (int(x) for x in part.split("-", 1))
                out += list(range(a, b + 1))
            else:
                out.append(int(part))
        except ValueError:
            raise ConfigError(f"{flag} {text!r}: use GPU indices like 0,1 or 0-5") from None
    if len(set(out)) != len(out) or any(g < 0 for g in out):
        raise ConfigError(f"{flag} {text!r}: GPU indices must be distinct and not negative")
    return out


def world_size(spec: cfg.ModelSpec) -> int:
    """GPUs one `vllm serve` of this spec uses on its node: TP × PP × DP."""
    return spec.tensor_parallel_size * spec.pipeline_parallel_size * spec.data_parallel_size


def memory_share(spec: cfg.ModelSpec) -> float:
    from harness.engine.vllm import flag_value

    v = flag_value(list(spec.extra_args), "--gpu-memory-utilization")
    if v is not None:
        try:
            return float(v)
        except ValueError:
            raise ConfigError(f"--gpu-memory-utilization {v!r} is not a number") from None
    return spec.gpu_memory_utilization if spec.gpu_memory_utilization is not None else VLLM_DEFAULT_MEMORY_SHARE


def uses_ray(spec: cfg.ModelSpec) -> bool:
    from harness.engine.vllm import flag_value

    return flag_value(list(spec.extra_args), "--distributed-executor-backend") == "ray"


def visible_gpus() -> int | None:
    """How many GPUs this process sees: its CUDA_VISIBLE_DEVICES, else `nvidia-smi -L`; None when unknown."""
    import os
    import shutil
    import subprocess

    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    if env is not None:
        return len([v for v in env.split(",") if v.strip() and v.strip() != "-1"])
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None
        if out.returncode == 0:
            return sum(1 for line in out.stdout.splitlines() if line.startswith("GPU "))
    return None


def plan_gpus(specs: dict[str, cfg.ModelSpec], available: int | None = None) -> dict[str, cfg.ModelSpec]:
    """GPUs for every vLLM server this process will start (by role: model, judge, user_sim), before any starts.

    A server given GPUs (`gpus`) keeps them; when several servers start, each without GPUs gets the next free ones
    (model first), unless every server has an explicit memory share (`--gpu-memory-utilization`) and they fit
    together on the GPUs they share. Refused, saying why, when servers overlap with shares adding up to more than
    MAX_SHARED_MEMORY (vLLM's default share is 0.92), when a server gets fewer GPUs than TP × PP × DP, or when more
    GPUs are needed than `available` (the node's count; None: unknown, not checked). A model on a Ray cluster
    (`--distributed-executor-backend ray`) takes every GPU of the cluster: no vLLM role server may start beside it."""
    servers = {r: s for r, s in specs.items() if s.engine == "vllm"}
    out = dict(specs)
    if not servers:
        return out
    names = {r: ROLE_FLAGS.get(r, r) for r in servers}
    if len(servers) > 1:
        ray = [r for r, s in servers.items() if uses_ray(s)]
        if ray:
            others = ", ".join(r for r in servers if r not in ray)
            raise ConfigError(f"the {ray[0]} runs on a Ray cluster (--distributed-executor-backend ray) and takes its "
                              f"GPUs; the {others} cannot start beside it: serve it elsewhere (openai:MODEL@URL, or "
                              "a `separate` server in a job spec)")
    shares = {r: memory_share(s) for r, s in servers.items()}
    explicit_share = {r: (s.gpu_memory_utilization is not None
                          or any(a.startswith("--gpu-memory-utilization") for a in s.extra_args))
                      for r, s in servers.items()}
    assigned = {r: list(s.gpus) for r, s in servers.items() if s.gpus is not None}
    todo = [r for r in servers if r not in assigned]
    colocate = len(servers) > 1 and not assigned and all(explicit_share.values())
    if len(servers) > 1 and todo and not colocate:
        used = {g for gs in assigned.values() for g in gs}
        nxt = 0
        for r in todo:
            need, mine = world_size(servers[r]), []
            while len(mine) < need:
                if nxt not in used:
                    mine.append(nxt)
                nxt += 1
            assigned[r] = mine
            used.update(mine)
    for r, s in servers.items():
        gpus = assigned.get(r)
        if gpus is not None and len(gpus) < world_size(s) and not uses_ray(s):
            raise ConfigError(f"the {r} server needs {world_size(s)} GPUs (TP {s.tensor_parallel_size} × PP "
                              f"{s.pipeline_parallel_size} × DP {s.data_parallel_size}) but {names[r]} gives it "
                              f"{len(gpus)}: {_fmt(gpus)}")
    placed = {r: assigned.get(r, list(range(world_size(s)))) for r, s in servers.items()}
    if available is not None:
        need = max((g for gs in placed.values() for g in gs), default=-1) + 1
        if need > available and not any(uses_ray(s) for s in servers.values()):
            plan = "; ".join(f"{r} on GPUs {_fmt(g)}" for r, g in placed.items())
            raise ConfigError(f"the servers need GPUs up to index {need - 1} but this node has {available} ({plan}). "
                              "Give each its own GPUs (--gpus, --judge-gpus, --user-sim-gpus, or `gpus` in a model "
                              "spec), or memory shares that fit together (--gpu-memory-utilization in each spec, "
                              f"adding up to at most {MAX_SHARED_MEMORY} on a shared GPU)")
    per_gpu: dict[int, list[str]] = {}
    for r, gs in placed.items():
        for g in gs:
            per_gpu.setdefault(g, []).append(r)
    for g, rs in sorted(per_gpu.items()):
        total = sum(shares[r] for r in rs)
        if len(rs) > 1 and total > MAX_SHARED_MEMORY + 1e-9:
            parts = " + ".join(f"{r} {shares[r]:g}{'' if explicit_share[r] else ' (vLLM default)'}" for r in rs)
            raise ConfigError(f"GPU {g} is shared by the {' and the '.join(rs)} servers, whose memory shares add up "
                              f"to {total:g} ({parts}) > {MAX_SHARED_MEMORY}: vLLM would refuse to start the second. "
                              "Give them their own GPUs (--gpus, --judge-gpus, --user-sim-gpus, or `gpus` in a model "
                              "spec) or smaller --gpu-memory-utilization shares")
    if len(servers) > 1:
        for r, gs in assigned.items():
            out[r] = specs[r].model_copy(update={"gpus": gs})
    return out


def tool_roles(plans: list) -> list[tuple[str, tuple[str, ...]]]:
    """(benchmark, roles whose requests carry tools) for planned benchmarks."""
    return [(p.benchmark.name, tuple(getattr(p.benchmark, "tool_roles", ()) or ()))
            for p in plans if getattr(p, "benchmark", None) is not None]


def benchmark_tool_roles(names: list[str]) -> list[tuple[str, tuple[str, ...]]]:
    """The same from benchmark names (job specs: nothing is planned where the files are generated)."""
    import importlib

    out = []
    for name in names:
        if ":" in name:  # lmeval:<task>, lmms:<task>: plain chat requests
            continue
        spec = cfg.load_benchmark_spec(name)
        try:
            cls = importlib.import_module(f"harness.benchmarks.{spec.module}").BENCHMARK
        except (ImportError, AttributeError):
            continue
        out.append((name, tuple(getattr(cls, "tool_roles", ()) or ())))
    return out


def check_tool_servers(benchmarks: list[tuple[str, tuple[str, ...]]], specs: dict[str, cfg.ModelSpec]) -> None:
    """A benchmark whose requests carry tools for a role (`tool_roles`: τ²'s agent and its phone-operating user)
    needs a vLLM server started with a tool-call parser for that role: without one, vLLM returns no tool calls.
    Refused before anything starts."""
    from harness.engine.vllm import flag_value

    for name, roles in benchmarks:
        for role in roles:
            spec = specs.get(role)
            if spec is None or spec.engine != "vllm" or spec.tool_call_parser or \
                    flag_value(list(spec.extra_args), "--tool-call-parser"):
                continue
            how = ("--tool-call-parser PARSER (job spec: run.tool_call_parser)" if role == "model" else
                   f"the {role} a tool-call parser (a model spec YAML with `tool_call_parser: PARSER`; job spec: "
                   f"`{role}: {{tool_call_parser: PARSER}}`)")
            raise ConfigError(f"{name}: the {role} answers with OpenAI tool calls, but its vLLM server would start "
                              f"without a tool-call parser (vLLM then returns no tool calls); give {how}, the "
                              "model's parser, e.g. hermes for Qwen3")


def plan_servers(model: cfg.ModelSpec, roles: dict[str, cfg.ModelSpec], plans: list | None = None,
                 available: int | None = None, benchmarks: list | None = None) -> dict[str, cfg.ModelSpec]:
    """The model's and the roles' specs with their GPUs planned (`plan_gpus`), after the checks that a plan can
    start: tool-call parsers where requests carry tools, GPUs and memory shares that fit on this node (its GPU count
    from `visible_gpus` when several servers start here)."""
    specs = {"model": model, **roles}
    check_tool_servers(benchmarks if benchmarks is not None else tool_roles(plans or []), specs)
    if available is None and sum(s.engine == "vllm" for s in specs.values()) > 1:
        available = visible_gpus()
    return plan_gpus(specs, available)


def _fmt(gpus: list[int]) -> str:
    return ",".join(str(g) for g in gpus) or "none"
