"""Turning `harness run` options into a run: the model spec, the benchmark entries, the protocol, the extra roles.
The CLI parses; this decides; the runner runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness import config as cfg
from harness.engine import Engine, make_engine
from harness.errors import ConfigError

PROTOCOLS = {"stage1": 5}  # the programme's protocols: every benchmark run this many times, averaged


def model_spec(model_config: Path | None, overrides: dict[str, Any]) -> cfg.ModelSpec:
    """A model spec YAML (or the embedded default) with command-line options on top, validated."""
    spec = cfg.load_model_spec(model_config) if model_config else cfg.ModelSpec()
    spec = spec.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    spec = cfg.ModelSpec(**spec.model_dump())
    if spec.engine == "replay" and not spec.responses:
        raise ConfigError("--engine replay needs --responses FILE")
    return spec


def entries(suite: str | None, benchmarks: str | None) -> tuple[list[cfg.SuiteEntry], cfg.GenerationParams | None,
                                                                  str]:
    """(benchmark entries, the suite's generation settings, a label for the run id)."""
    if suite and benchmarks:
        raise ConfigError("give --suite or --benchmarks, not both")
    if benchmarks:
        es = [cfg.SuiteEntry(name=b.strip()) for b in benchmarks.split(",") if b.strip()]
        return es, None, "+".join(e.name for e in es)
    s = cfg.load_suite(suite or "smoke")
    return s.benchmarks, s.generation, s.name


def repeats_for(protocol: str | None, repeats: int | None) -> int | None:
    if protocol is None:
        return repeats
    if protocol not in PROTOCOLS:
        raise ConfigError(f"unknown protocol {protocol!r}; known: {', '.join(PROTOCOLS)}")
    if repeats is not None and repeats != PROTOCOLS[protocol]:
        raise ConfigError(f"--protocol {protocol} runs every benchmark {PROTOCOLS[protocol]} times; drop --repeats")
    return PROTOCOLS[protocol]


def plugins() -> dict:
    """Entries run by other tools against the same engine: `lmeval:<task>`."""
    from harness.lmeval.run import PLUGINS

    return PLUGINS


def progress(enabled: bool):
    """The progress display the runner reports to (a live bar, or lines in a batch log)."""
    if not enabled:
        return None
    from harness.report.progress import Progress

    return lambda todo: Progress(True, todo)


def role_engines(judge: str | None, judge_cache: Path | None, user_sim: str | None, run_dir: Path) -> dict[str, Engine]:
    """The extra engines: a judge behind its cache, a user simulator."""
    if judge_cache and not judge:
        raise ConfigError("--judge-cache goes with --judge")
    roles: dict[str, Engine] = {}
    if judge:
        from harness.responses import judge_engine

        roles["judge"] = judge_engine(judge, judge_cache or run_dir / "judge_cache.jsonl")
    if user_sim:
        roles["user_sim"] = make_engine(cfg.parse_engine_spec(user_sim, "user_sim"), log_name="user_sim-server.log")
    return roles
