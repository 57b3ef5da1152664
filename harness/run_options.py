"""The options of `harness run`, as data, for code that must not import the CLI (job specs, harness.jobs.spec:
the CLI imports the jobs commands, so the jobs importing the CLI would be a cycle). tests/test_jobs.py checks this
table against the `run` command itself, so a new or renamed option of `harness run` fails that test until it is
added here."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RunOption:
    name: str  # the parameter name; a job spec's `run:` section takes it or its flag spelling (`vllm_arg`, `vllm-arg`)
    flag: str  # the command-line flag
    multiple: bool = False  # repeatable: a list in a job spec repeats the flag
    negative: str | None = None  # a boolean switch: the flag that turns it off (`--no-progress`)


def _opts(*specs: str | RunOption) -> dict[str, RunOption]:
    out = {}
    for s in specs:
        o = s if isinstance(s, RunOption) else RunOption(s, "--" + s.replace("_", "-"))
        out[o.name] = o
    return out


RUN_OPTIONS: dict[str, RunOption] = _opts(
    "suite", "benchmarks", "team", "model", "model_config", "engine", "name", "base_url", "api_key_env", "served_model_name",
    "tp", "dp", "pp", "max_model_len", "reasoning_parser", "tool_call_parser",
    RunOption("vllm_arg", "--vllm-arg", multiple=True),
    "vllm_executable", "gpus", "judge_gpus", "user_sim_gpus", "startup_timeout", "responses", "concurrency", "request_timeout", "max_retries",
    RunOption("stream", "--stream", negative="--no-stream"), "repeats", "limit", "max_tokens", "temperature",
    "top_p",
    RunOption("gen", "--gen", multiple=True),
    "out",
    RunOption("data_dir", "--data-dir", multiple=True),
    RunOption("data", "--data", multiple=True),
    "max_error_rate", "max_unparsed_rate", "max_truncation_rate", "judge", "judge_cache", "user_sim",
    "judge_api_key_env", "user_sim_api_key_env", "protocol",
    "shard", "max_items",
    RunOption("progress", "--progress", negative="--no-progress"),
)
