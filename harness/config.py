"""Typed specs: the model to evaluate, how to run, and the declarative task data in tasks/."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
# where a wheel carries the repository's tasks/ (setup.py copies it there at build time)
PACKAGED_TASKS = Path(__file__).resolve().parent / "_tasks"


def tasks_dir() -> Path:
    """Where the declarative task data lives: `HARNESS_TASKS_DIR` if set, else the copy an installed wheel carries
    (`harness/_tasks`; a source checkout or an editable install has none), else the checkout's `tasks/`."""
    env = os.environ.get("HARNESS_TASKS_DIR")
    if env:
        return Path(env)
    if (PACKAGED_TASKS / "benchmarks").is_dir():
        return PACKAGED_TASKS
    return REPO_ROOT / "tasks"


def default_data_dir() -> Path | None:
    """Local benchmark data used when no `--data-dir` is given: `HARNESS_DATA_DIR`, else `../shared/data`."""
    env = os.environ.get("HARNESS_DATA_DIR")
    if env:
        return Path(env)
    shared = REPO_ROOT.parent / "shared" / "data"
    return shared if shared.is_dir() else None


# the most repeats of one sample (a benchmark YAML, a suite, --repeats, a responses file's `repeat`), and the most work
# items one `harness run` plans without `--max-items` (harness.launch.check_items): a typo (`--repeats 5000`) must not
# queue 60 million requests
MAX_REPEATS = 10_000
MAX_ITEMS = 1_000_000


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class GenerationParams(Strict):
    """Sampling settings sent with every request. `None` means "engine default"."""

    temperature: float | None = Field(None, ge=0)
    top_p: float | None = Field(None, gt=0, le=1)
    top_k: int | None = Field(None, ge=-1)  # -1: vLLM's "no top-k"
    max_tokens: int | None = Field(None, ge=1)
    stop: list[str] | None = None
    presence_penalty: float | None = None
    # passed through verbatim in the request body (e.g. chat_template_kwargs, min_p)
    extra: dict[str, Any] = Field(default_factory=dict)

    def merged(self, *overrides: "GenerationParams | dict | None") -> "GenerationParams":
        data = self.model_dump()
        for o in overrides:
            if o is None:
                continue
            od = o.model_dump(exclude_unset=True) if isinstance(o, GenerationParams) else dict(o)
            extra = od.pop("extra", None)
            data.update({k: v for k, v in od.items() if v is not None})
            if extra:
                data["extra"] = {**data["extra"], **extra}
        return GenerationParams(**data)


class ModelSpec(Strict):
    """What to evaluate and through which engine."""

    engine: Literal["vllm", "openai", "hf", "replay"] = "hf"
    model: str = "smollm2-135m"
    name: str | None = None  # display name in results; defaults to `model`
    # openai engine
    base_url: str | None = None
    api_key_env: str = "OPENAI_API_KEY"  # name of the variable; the key itself is never stored
    # vllm engine
    executable: list[str] = Field(default_factory=lambda: ["vllm"])
    served_model_name: str | None = None
    tensor_parallel_size: int = Field(1, ge=1)
    data_parallel_size: int = Field(1, ge=1)
    pipeline_parallel_size: int = Field(1, ge=1)
    max_model_len: int | None = Field(None, ge=1)
    reasoning_parser: str | None = None
    tool_call_parser: str | None = None
    extra_args: list[str] = Field(default_factory=list)
    # which GPUs this server uses (indices into the devices the harness sees; they become its CUDA_VISIBLE_DEVICES)
    # and its share of each GPU's memory (`--gpu-memory-utilization`; None: vLLM's default). Servers started on one
    # node must get disjoint GPUs or shares that fit together (harness.launch.plan_gpus checks before starting).
    gpus: list[int] | None = None
    gpu_memory_utilization: float | None = Field(None, gt=0, le=1)
    host: str = "127.0.0.1"
    port: int | None = None
    startup_timeout: float = Field(1800.0, gt=0)
    # hf engine
    gguf_file: str | None = None
    dtype: str = "float32"
    batch_size: int = Field(8, ge=1)
    # replay engine
    responses: str | None = None
    # client
    # requests in flight; None: from the server's batch when the harness starts vLLM, else 256
    # (harness.engine.batch.concurrency_for). 0 would let no request start: a run that hangs
    concurrency: int | None = Field(None, ge=1)
    request_timeout: float = Field(3600.0, gt=0)  # idle: seconds with no byte from the server fail an attempt
    max_retries: int = Field(5, ge=0)
    stream: bool = True  # stream completions (false: for servers that cannot)
    # sampling defaults for this model (e.g. a model card's recommended settings)
    generation: GenerationParams = Field(default_factory=GenerationParams)

    @property
    def display_name(self) -> str:
        return self.name or self.model

    def public_dict(self) -> dict:
        """For the manifest: everything but secrets (API keys are read from the environment, never stored)."""
        return self.model_dump(mode="json")


class Thresholds(Strict):
    """A score is `valid: false` when any rate exceeds its threshold."""

    max_error_rate: float = Field(0.02, ge=0, le=1)
    max_unparsed_rate: float = Field(0.10, ge=0, le=1)
    max_truncation_rate: float = Field(0.10, ge=0, le=1)


class DataSpec(Strict):
    """Where a benchmark's data comes from. Local files win over the hub."""

    hf: str | None = None  # HF dataset id
    config: str | None = None
    split: str = "test"
    revision: str | None = None  # pinned commit; None = not pinned (recorded as such in the manifest)
    local: str | None = None  # path relative to the data dir (a file or a directory)
    format: Literal["jsonl", "csv", "json", "parquet", "auto"] = "auto"


class BenchmarkSpec(Strict):
    """tasks/benchmarks/<name>.yaml: the declarative part of a benchmark."""

    name: str
    version: str
    description: str = ""
    module: str  # harness.benchmarks.<module>
    data: DataSpec
    prompt: str = ""  # prompt template; fields are filled by the module
    extraction: str = ""  # human-readable description of the extraction cascade
    metric: str = "accuracy"
    repeats: int = Field(1, ge=1, le=MAX_REPEATS)
    seed: int = 1234
    generation: GenerationParams = Field(default_factory=GenerationParams)
    options: dict[str, Any] = Field(default_factory=dict)  # module-specific knobs
    # what the benchmark mainly measures (e.g. knowledge, math, code); the report's area radar groups by it.
    # None: not in the area radar
    area: str | None = None
    # the points-scheme input (tasks/schemes/*.yaml, `kind: input`) this benchmark's result supplies, e.g. `nia`:
    # `harness points --nia RUN_DIR` takes the NIA score from the benchmark that declares `points_input: nia`
    points_input: str | None = None
    sha256: str = ""  # filled by the loader: hash of the YAML text

    @property
    def path(self) -> Path:
        return tasks_dir() / "benchmarks" / f"{self.name}.yaml"


class SuiteEntry(Strict):
    name: str
    limit: int | None = Field(None, ge=1)
    repeats: int | None = Field(None, ge=1, le=MAX_REPEATS)
    generation: GenerationParams | None = None


class SuiteSpec(Strict):
    name: str
    description: str = ""
    benchmarks: list[SuiteEntry]
    generation: GenerationParams | None = None


def _read_yaml(path: Path) -> tuple[dict, str]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path} does not exist") from None
    except IsADirectoryError:
        raise ConfigError(f"{path} is a directory, not a YAML file") from None
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path} is not UTF-8 text (byte {e.start}: {e.reason}); save it as UTF-8") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path} is not valid YAML: {e}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{path} must hold a mapping at top level")
    return data, text


def _parse(cls, data: dict, path: Path):
    try:
        return cls(**data)
    except ValidationError as e:
        raise ConfigError(f"{path}: invalid {cls.__name__}:\n{e}") from None


def benchmark_names() -> list[str]:
    return sorted(p.stem for p in (tasks_dir() / "benchmarks").glob("*.yaml"))


def suite_names() -> list[str]:
    return sorted(p.stem for p in (tasks_dir() / "suites").glob("*.yaml"))


def load_benchmark_spec(name: str) -> BenchmarkSpec:
    path = tasks_dir() / "benchmarks" / f"{name}.yaml"
    if not path.exists():
        known = ", ".join(benchmark_names())
        raise ConfigError(f"unknown benchmark {name!r}; known benchmarks: {known} (see `harness list`)")
    data, text = _read_yaml(path)
    spec = _parse(BenchmarkSpec, data, path)
    if spec.name != name:
        raise ConfigError(f"{path}: name {spec.name!r} does not match the file name {name!r}")
    spec.sha256 = hashlib.sha256(text.encode()).hexdigest()
    return spec


def load_suite(name: str) -> SuiteSpec:
    path = Path(name) if name.endswith((".yaml", ".yml")) else tasks_dir() / "suites" / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"unknown suite {name!r}; known suites: {', '.join(suite_names())}")
    data, _ = _read_yaml(path)
    return _parse(SuiteSpec, data, path)


def load_model_spec(path: Path) -> ModelSpec:
    data, _ = _read_yaml(path)
    return _parse(ModelSpec, data, path)


def check_env_name(name: str, flag: str) -> str:
    """An environment variable's name (an API key is passed by the name of the variable holding it, never itself)."""
    import re

    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name or ""):
        raise ConfigError(f"{flag} {name!r}: give the NAME of an environment variable holding the key (letters, "
                          "digits, '_'), not the key itself")
    return name


def parse_engine_spec(text: str, role: str = "judge", api_key_env: str | None = None) -> ModelSpec:
    """A second engine from one option: a model spec YAML path, or `ENGINE:MODEL[@URL]` with ENGINE one of
    openai (then @URL is the base URL), vllm, hf. Examples: `openai:gpt-oss-120b@http://judge:8000/v1`,
    `vllm:Qwen/Qwen3-235B-A22B-Instruct-2507`, `tasks/models/judge.yaml`.

    The API key sent to an openai engine is read from the variable `api_key_env` names (`--judge-api-key-env`,
    `--user-sim-api-key-env`); without it, from the spec YAML's `api_key_env`, else OPENAI_API_KEY."""
    flag = f"--{role.replace('_', '-')}-api-key-env"
    if api_key_env is not None:
        check_env_name(api_key_env, flag)
    if text.endswith((".yaml", ".yml")):
        spec = load_model_spec(Path(text))
        return spec.model_copy(update={"api_key_env": api_key_env}) if api_key_env else spec
    engine, sep, rest = text.partition(":")
    if not sep or engine not in ("openai", "vllm", "hf"):
        raise ConfigError(f"--{role.replace('_', '-')} {text!r}: use ENGINE:MODEL[@URL] (ENGINE = openai, vllm, hf) "
                          "or a model spec YAML file")
    model, _, url = rest.partition("@")
    if engine == "openai" and not url:
        raise ConfigError(f"--{role.replace('_', '-')} {text!r}: the openai engine needs @BASE_URL")
    return ModelSpec(engine=engine, model=model, base_url=url or None, name=model,
                     **({"api_key_env": api_key_env} if api_key_env else {}))
