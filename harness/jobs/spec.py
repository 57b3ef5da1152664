"""The job spec: one YAML file that says what to run (the options of `harness run`), on what (nodes, GPUs, time),
how to split it (shards) and where the judge / user-simulator servers live. `harness jobs slurm|k8s` turn it into
scheduler files; see docs/jobs.md for a full example.

    name: qwen3-235b-common13
    run: {suite: common13, model_config: tasks/models/qwen3-235b-a22b-thinking-2507.yaml, engine: vllm, tp: 8,
          protocol: stage1, data_dir: [/data/bundle]}
    resources: {nodes: 1, gpus_per_node: 8, time: "48:00:00", partition: gpu}
    shards: {by_benchmark: true, samples: 1}
    judge: {mode: separate, model: openai/gpt-oss-120b, tp: 4}
"""

from __future__ import annotations

import shlex
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator

from harness.config import Strict, _parse, _read_yaml
from harness.errors import ConfigError
from harness.run_options import RUN_OPTIONS, RunOption

# set by the job itself, never by the spec's `run:` section
RESERVED = {"out": "the job sets --out to <results>/<name>[.shards/<task>]",
            "shard": "use `shards: {samples: N}`",
            "progress": "jobs always run with --no-progress (logs, not a terminal)"}

DEFAULT_ENV = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PYTHONUNBUFFERED": "1"}


class Resources(Strict):
    nodes: int = Field(1, ge=1)
    gpus_per_node: int = Field(0, ge=0)
    cpus_per_task: int | None = Field(None, ge=1)
    mem: str | None = None  # SLURM --mem ("0" = all of the node's memory) / k8s memory request ("200Gi")
    time: str | None = None  # SLURM --time, e.g. "48:00:00"
    partition: str | None = None
    account: str | None = None
    qos: str | None = None
    constraint: str | None = None
    sbatch: list[str] = Field(default_factory=list)  # more #SBATCH options verbatim, e.g. "--exclusive"


class Shards(Strict):
    by_benchmark: bool = False  # one array task per benchmark of the run
    samples: int = Field(1, ge=1)  # sample shards per benchmark (harness run --shard I/N)
    parallel: int | None = Field(None, ge=1)  # at most this many tasks at once (SLURM %N, k8s parallelism)

    @property
    def sharded(self) -> bool:
        return self.by_benchmark or self.samples > 1


class ServerSpec(Strict):
    """A judge or user-simulator model. `separate`: its own job (a vLLM server the run jobs reach over the network);
    `colocated`: the harness starts it inside each run job, beside the model under test; `external`: an
    OpenAI-compatible endpoint that already runs."""

    mode: Literal["separate", "colocated", "external"] = "separate"
    model: str | None = None
    model_spec: str | None = None  # colocated: a model spec YAML file used as is
    url: str | None = None  # external: base URL, e.g. http://judge:8000/v1
    served_model_name: str | None = None
    executable: str = "vllm"
    args: list[str] = Field(default_factory=list)  # extra `vllm serve` arguments
    # external: the variable holding its API key (passed as --judge-api-key-env / --user-sim-api-key-env; on
    # Kubernetes fill it from a Secret with `k8s.secret_env`)
    api_key_env: str | None = None
    tool_call_parser: str | None = None  # a server whose requests carry tools (τ²'s user simulator): its parser
    reasoning_parser: str | None = None
    gpus: list[int] | None = None  # colocated: its GPUs on the run's node (indices), apart from the model's
    tp: int = Field(1, ge=1)
    port: int = Field(8000, ge=1, le=65535)
    startup_timeout: float = 3600.0
    resources: Resources = Field(default_factory=Resources)

    @property
    def name_served(self) -> str:
        return self.served_model_name or self.model or ""

    def serve_command(self) -> list[str]:
        cmd = [*shlex.split(self.executable), "serve", self.model or "", "--host", "0.0.0.0", "--port", str(self.port)]
        if self.served_model_name:
            cmd += ["--served-model-name", self.served_model_name]
        if self.tp != 1:
            cmd += ["--tensor-parallel-size", str(self.tp)]
        if self.reasoning_parser:
            cmd += ["--reasoning-parser", self.reasoning_parser]
        if self.tool_call_parser:
            cmd += ["--enable-auto-tool-choice", "--tool-call-parser", self.tool_call_parser]
        return cmd + [a for v in self.args for a in shlex.split(v)]


class SecretKeyRef(Strict):
    """A key of a Kubernetes Secret: `kubectl create secret generic judge-key --from-literal=token=...`."""

    secret: str  # the Secret's name
    key: str  # the key inside it


class K8sSpec(Strict):
    image: str  # a container image with the harness, vLLM and Ray installed
    namespace: str | None = None
    volumes: dict[str, str] = Field(default_factory=dict)  # mount path -> PersistentVolumeClaim name
    gpu_resource: str = "nvidia.com/gpu"
    shm_size: str = "64Gi"  # /dev/shm for NCCL and vLLM workers
    service_account: str | None = None
    node_selector: dict[str, str] = Field(default_factory=dict)
    image_pull_secrets: list[str] = Field(default_factory=list)
    backoff_limit: int = Field(0, ge=0)
    ttl_seconds_after_finished: int | None = Field(None, ge=0)
    # environment variables read from Secrets (`valueFrom.secretKeyRef`), e.g. the judge's API key:
    # {JUDGE_API_KEY: {secret: judge-key, key: token}}; `env:` values are plaintext in the manifest, these are not
    secret_env: dict[str, SecretKeyRef] = Field(default_factory=dict)


class JobSpec(Strict):
    name: str
    run: dict[str, Any] = Field(default_factory=dict)  # `harness run` options, as on the command line
    results: str = "results"  # results root on storage every node sees; the run lands in <results>/<name>
    harness: str = "harness"  # how compute nodes start the harness, e.g. "/opt/venv/bin/harness"
    workdir: str | None = None  # where jobs run (relative paths in `run` resolve here); default: where generated
    setup: list[str] = Field(default_factory=list)  # shell lines run first (module load, venv activation)
    env: dict[str, str] = Field(default_factory=dict)  # exported; DEFAULT_ENV unless overridden
    resources: Resources = Field(default_factory=Resources)
    shards: Shards = Field(default_factory=Shards)
    judge: ServerSpec | None = None
    user_sim: ServerSpec | None = None
    ray_port: int = 6379
    k8s: K8sSpec | None = None

    @field_validator("name")
    @classmethod
    def _name(cls, v: str) -> str:
        import re

        if not re.fullmatch(r"[a-z0-9]([-a-z0-9]{0,50}[a-z0-9])?", v):
            raise ValueError("name must be lowercase letters, digits and '-' (a Kubernetes and SLURM job name), "
                             f"at most 52 characters; got {v!r}")
        return v

    @property
    def environment(self) -> dict[str, str]:
        return {**DEFAULT_ENV, **self.env}

    @property
    def multi_node(self) -> bool:
        return self.resources.nodes > 1

    def servers(self) -> dict[str, ServerSpec]:
        return {r: s for r, s in (("judge", self.judge), ("user_sim", self.user_sim)) if s is not None}


def load_job_spec(path: Path) -> JobSpec:
    data, _ = _read_yaml(Path(path))
    spec = _parse(JobSpec, data, Path(path))
    check(spec)
    return spec


def run_options() -> dict[str, RunOption]:
    """The options of `harness run`, by parameter name (harness.run_options: data, so that job specs do not import
    the CLI; a test keeps it in step with the `run` command)."""
    return RUN_OPTIONS


def check(spec: JobSpec) -> None:
    """Problems a scheduler would only find hours later, found now."""
    known = run_options()
    for key in spec.run:
        k = key.replace("-", "_")
        if k in RESERVED:
            raise ConfigError(f"job spec `run.{key}`: not allowed here; {RESERVED[k]}")
        if k not in known:
            raise ConfigError(f"job spec `run.{key}`: `harness run` has no such option; known: "
                              + ", ".join(sorted(n for n in known if n not in RESERVED)))
    opts = {k.replace("-", "_"): v for k, v in spec.run.items()}
    if sum(bool(opts.get(k)) for k in ("suite", "benchmarks", "team")) > 1:
        raise ConfigError("job spec `run`: give one of suite, benchmarks or team")
    for role, server in spec.servers().items():
        if opts.get(role):
            raise ConfigError(f"job spec: `run.{role}` and a `{role}:` section both name the {role}; keep one")
        if server.mode == "external" and not (server.url and server.model):
            raise ConfigError(f"job spec `{role}`: mode external needs `url` and `model`")
        if server.mode == "separate" and not server.model:
            raise ConfigError(f"job spec `{role}`: mode separate needs `model` (what `vllm serve` loads)")
        if server.mode == "colocated" and not (server.model or server.model_spec):
            raise ConfigError(f"job spec `{role}`: mode colocated needs `model` or `model_spec`")
        if server.gpus is not None and server.mode != "colocated":
            raise ConfigError(f"job spec `{role}`: `gpus` places a colocated server beside the model; a {server.mode} "
                              "server gets its own (resources.gpus_per_node)")
    if spec.k8s:
        for var in spec.k8s.secret_env:
            if var in spec.environment:
                raise ConfigError(f"job spec: {var} is in both `env` and `k8s.secret_env`; keep the Secret")
    for role, server in spec.servers().items():
        if server.api_key_env:
            from harness.config import check_env_name

            check_env_name(server.api_key_env, f"job spec `{role}.api_key_env`")
            if server.mode != "external":
                raise ConfigError(f"job spec `{role}.api_key_env`: only an external server takes a key here")
            if opts.get(f"{role}_api_key_env"):
                raise ConfigError(f"job spec: `run.{role}_api_key_env` and `{role}.api_key_env` both name the key")
    if spec.multi_node and opts.get("engine", "vllm") != "vllm" and not opts.get("model_config"):
        raise ConfigError("job spec: resources.nodes > 1 needs run.engine: vllm (multi-node serving is vLLM on Ray)")
    check_servers(spec)


def model_spec_of(spec: JobSpec):
    """The model spec a run task will build from `run:` (its model_config file read when it can be found from here,
    relative to `workdir`), as `harness run` builds it; with the multi-node Ray flag the job adds."""
    from harness import launch
    from harness.jobs.script import run_vllm_args

    opts = {k.replace("-", "_"): v for k, v in spec.run.items()}
    path = opts.get("model_config")
    if path:
        p = Path(path)
        if not p.is_absolute() and spec.workdir:
            p = Path(spec.workdir) / p
        path = p if p.is_file() else None
    vllm_arg = run_vllm_args(spec)
    return launch.model_spec(path, {
        "model": opts.get("model"), "engine": opts.get("engine"), "served_model_name": opts.get("served_model_name"),
        "tensor_parallel_size": opts.get("tp"), "data_parallel_size": opts.get("dp"),
        "pipeline_parallel_size": opts.get("pp"), "max_model_len": opts.get("max_model_len"),
        "reasoning_parser": opts.get("reasoning_parser"), "tool_call_parser": opts.get("tool_call_parser"),
        "executable": launch.split_args([opts["vllm_executable"]]) if opts.get("vllm_executable") else None,
        "extra_args": launch.split_args(vllm_arg) or None,
        "gpus": launch.parse_gpus(opts.get("gpus")),
        "responses": opts.get("responses")})


def role_specs_of(spec: JobSpec) -> dict[str, Any]:
    """The judge / user-simulator specs a run task will start itself (colocated, or `run.judge: vllm:M`)."""
    from harness import config as cfg
    from harness import launch
    from harness.jobs.script import server_model_spec
    import yaml

    opts = {k.replace("-", "_"): v for k, v in spec.run.items()}
    out = {}
    for role, text in launch.role_specs(opts.get("judge"), opts.get("user_sim"), {
            "judge": launch.parse_gpus(opts.get("judge_gpus"), "--judge-gpus"),
            "user_sim": launch.parse_gpus(opts.get("user_sim_gpus"), "--user-sim-gpus")},
            {"judge": opts.get("judge_api_key_env"), "user_sim": opts.get("user_sim_api_key_env")}).items():
        out[role] = text
    for role, s in spec.servers().items():
        if s.mode != "colocated":
            continue
        if s.model_spec:
            p = Path(s.model_spec)
            p = p if p.is_absolute() or not spec.workdir else Path(spec.workdir) / p
            if p.is_file():
                out[role] = cfg.load_model_spec(p)
            continue
        out[role] = cfg.ModelSpec(**yaml.safe_load(server_model_spec(s)))
    return out


def check_servers(spec: JobSpec) -> None:
    """What a run task starts on its node must be able to start: tool-call parsers where requests carry tools,
    GPUs and memory shares that fit the node (harness.launch.plan_servers, as `harness run` checks it)."""
    from harness import config as cfg
    from harness import launch

    names = run_benchmarks(spec.run)
    model = model_spec_of(spec)
    here = role_specs_of(spec)  # started by each run task, beside the model
    served = dict(here)  # and the separate servers, for what their requests need
    for role, s in spec.servers().items():
        if s.mode == "separate":
            served[role] = cfg.ModelSpec(engine="vllm", model=s.model or "", tool_call_parser=s.tool_call_parser,
                                         extra_args=[a for v in s.args for a in shlex.split(v)])
    try:
        launch.check_tool_servers(launch.benchmark_tool_roles(names), {"model": model, **served})
        launch.plan_gpus({"model": model, **here}, spec.resources.gpus_per_node or None)
    except ConfigError as e:
        raise ConfigError(f"job spec: a run task could not start: {e}") from None


def run_benchmarks(run: dict[str, Any]) -> list[str]:
    """The benchmark names a job's `run:` section selects: its `benchmarks`, its team's runnable individual
    benchmarks (`team`, as `harness run --team` picks them), else its suite's."""
    from harness import config as cfg
    from harness.launch import team_entries

    opts = {k.replace("-", "_"): v for k, v in run.items()}
    if opts.get("benchmarks"):
        b = opts["benchmarks"]
        return b if isinstance(b, list) else [x.strip() for x in str(b).split(",") if x.strip()]
    if opts.get("team"):
        return [e.name for e in team_entries(str(opts["team"]))]
    return [e.name for e in cfg.load_suite(str(opts.get("suite") or "smoke")).benchmarks]


def run_args(opts: dict[str, Any]) -> list[str]:
    """`harness run` arguments for a `run:` mapping: names as parameters (`vllm_arg`) or flags (`vllm-arg`);
    lists repeat the option; booleans pick --x / --no-x."""
    known = run_options()
    args: list[str] = []
    for key, value in opts.items():
        o = known[key.replace("-", "_")]
        if value is None:
            continue
        if o.negative:
            args.append(o.flag if value else o.negative)
            continue
        values = value if isinstance(value, list) else [value]
        if not o.multiple and len(values) != 1:
            raise ConfigError(f"job spec `run.{key}`: takes one value, got {len(values)}")
        for v in values:
            if isinstance(v, bool):
                v = str(v).lower()
            args += [o.flag, str(v)]
    return args
