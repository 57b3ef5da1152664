"""The bash every job runs, shared by SLURM and Kubernetes: pick the array task's slice, wait for judge /
user-simulator servers, run `harness run` into the task's directory, and mark the task done.

The scheduler-specific parts (how the task index is named, how a multi-node Ray cluster is formed) are passed in.
Generated scripts are plain bash (`bash -n` clean, no bashisms past 4.2) so that they can be read and run by hand.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

import yaml

from harness import config as cfg
from harness.jobs.shard import Task, task_table
from harness.jobs.spec import JobSpec, ServerSpec, run_args, run_benchmarks
from harness.errors import ConfigError

q = shlex.quote


def sh_path(path: str) -> str:
    """A path for a shell assignment: quoted, except that a leading $VAR (e.g. `$SCRATCH/results`) expands."""
    return f'"{path}"' if path.startswith("$") else q(path)


@dataclass
class Layout:
    """Where a generated job keeps its files, as the compute nodes see them."""

    job_dir: str  # suite-<benchmark>.yaml, <role>.yaml, state/ (server URLs), logs/
    results: str  # results root

    def run_dir(self, spec: JobSpec) -> str:
        return f"{self.results}/{spec.name}"

    def shard_dir(self, spec: JobSpec, task: Task) -> str:
        return f"{self.results}/{spec.name}.shards/{task.tag}"


def benchmark_groups(spec: JobSpec) -> tuple[list[str] | None, dict[str, str]]:
    """With shards.by_benchmark: the benchmark names, and for a suite one single-benchmark suite YAML per name
    (the suite's limits, repeats and generation settings carried over)."""
    if not spec.shards.by_benchmark:
        return None, {}
    opts = {k.replace("-", "_"): v for k, v in spec.run.items()}
    if opts.get("benchmarks") or opts.get("team"):
        return run_benchmarks(spec.run), {}
    suite = cfg.load_suite(str(opts.get("suite") or "smoke"))
    files = {}
    for e in suite.benchmarks:
        one = {"name": f"{suite.name}-{e.name}", "description": f"{e.name} of suite {suite.name} (one array task)",
               "benchmarks": [e.model_dump(exclude_none=True)]}
        if suite.generation:
            one["generation"] = suite.generation.model_dump(exclude_none=True)
        files[e.name] = yaml.safe_dump(one, sort_keys=False, allow_unicode=True)
    return [e.name for e in suite.benchmarks], files


def tasks_of(spec: JobSpec) -> list[Task]:
    names, _ = benchmark_groups(spec)
    return task_table(names, spec.shards.samples)


def server_model_spec(server: ServerSpec) -> str:
    """A colocated server as a model spec YAML (passed as `--judge FILE`)."""
    spec = cfg.ModelSpec(engine="vllm", model=server.model, served_model_name=server.served_model_name,
                         executable=shlex.split(server.executable), tensor_parallel_size=server.tp,
                         tool_call_parser=server.tool_call_parser, reasoning_parser=server.reasoning_parser,
                         gpus=server.gpus, extra_args=[a for v in server.args for a in shlex.split(v)],
                         startup_timeout=server.startup_timeout, name=server.model)
    return yaml.safe_dump(spec.model_dump(mode="json", exclude_defaults=True), sort_keys=False)


def url_file(layout: Layout, role: str) -> str:
    return f"$JOB_DIR/state/{role}.url"


def _flag(role: str) -> str:
    return "--" + role.replace("_", "-")


def _header(spec: JobSpec, layout: Layout) -> list[str]:
    lines = ["set -euo pipefail", ""]
    if spec.setup:
        lines += ["# setup (job spec `setup`)", *spec.setup, ""]
    lines.append("# environment (job spec `env`; offline hub by default: data and models come from local paths)")
    lines += [f"export {k}={q(v)}" for k, v in spec.environment.items()]
    lines += ["", f'JOB_DIR="${{HARNESS_JOB_DIR:-{layout.job_dir}}}"', f"RESULTS={sh_path(layout.results)}",
              f"HARNESS=({' '.join(q(a) for a in shlex.split(spec.harness))})"]
    if spec.workdir:
        lines.append(f"cd {q(spec.workdir)}")
    return lines


def _case(spec: JobSpec, layout: Layout, tasks: list[Task], index_var: str) -> list[str]:
    _, suite_files = benchmark_groups(spec)
    lines = [f'TASK="${{{index_var}:-0}}"', 'case "$TASK" in']
    for t in tasks:
        select = ""
        if t.benchmark:
            select = (f'--suite "$JOB_DIR/suite-{t.benchmark}.yaml"' if t.benchmark in suite_files
                      else f"--benchmarks {q(t.benchmark)}")
        shard = f"--shard {t.shard[0]}/{t.shard[1]}" if t.shard else ""
        out = layout.shard_dir(spec, t) if spec.shards.sharded else layout.run_dir(spec)
        out = out.replace(layout.results, "$RESULTS", 1)
        roles = "".join(f" {r} " for r in sorted(task_roles(spec, t)))  # matched as *" judge "* below
        lines.append(f'  {t.index}) SELECT=({select}); SHARD=({shard}); ROLES="{roles}"; OUT="{out}" ;;')
    lines += [f'  *) echo "no array task $TASK (this job has {len(tasks)}: 0-{len(tasks) - 1})" >&2; exit 2 ;;',
              "esac"]
    return lines


def spec_benchmarks(spec: JobSpec) -> list[str]:
    """The benchmark names a job runs (its `run.benchmarks`, its team's, else its suite's)."""
    return run_benchmarks(spec.run)


def task_roles(spec: JobSpec, task: Task) -> set[str]:
    """The judge / user-simulator roles the benchmarks of one array task use: only those get `--judge` /
    `--user-sim` (and wait for that server). A name this version cannot load (an lm-eval task) uses none."""
    from harness.benchmarks import load_benchmark
    from harness.errors import HarnessError

    out: set[str] = set()
    for name in [task.benchmark] if task.benchmark else spec_benchmarks(spec):
        try:
            b = load_benchmark(name)
        except HarnessError:
            continue
        out |= set(b.roles) | set(b.optional_roles)
    return out


def _servers(spec: JobSpec, layout: Layout, k8s_urls: dict[str, str] | None) -> list[str]:
    lines = ["SERVERS=()"]
    for role, s in spec.servers().items():
        flag = _flag(role)
        lines.append(f'if [[ "$ROLES" == *" {role} "* ]]; then  # only tasks whose benchmarks use the {role}')
        at = len(lines)
        if s.mode == "external":
            lines.append(f"SERVERS+=({flag} {q(f'openai:{s.name_served}@{s.url}')})")
            if s.api_key_env:  # the variable's name only; the key comes from the environment (a k8s Secret)
                lines.append(f"SERVERS+=({flag}-api-key-env {q(s.api_key_env)})")
        elif s.mode == "colocated":
            target = s.model_spec or f"$JOB_DIR/{role}.yaml"
            lines.append(f'SERVERS+=({flag} "{target}")')
        else:
            where = (f"--url {q(k8s_urls[role])}" if k8s_urls else f'--url-file "{url_file(layout, role)}"')
            lines += [f"echo \"waiting for the {role} server ({s.name_served})\" >&2",
                      f'{role.upper()}_URL=$("${{HARNESS[@]}}" jobs wait-server {where} '
                      f"--timeout {int(s.startup_timeout)})",
                      f'SERVERS+=({flag} "openai:{s.name_served}@${{{role.upper()}_URL}}")']
        lines[at:] = ["  " + x for x in lines[at:]] + ["fi"]
    opts = {k.replace("-", "_"): v for k, v in spec.run.items()}
    for role in ("judge", "user_sim"):  # `run.judge: vllm:M` and the like: also only where used
        args = run_args({k: opts[k] for k in _ROLE_OPTIONS[role] if opts.get(k) is not None})
        if args and role not in spec.servers():
            lines += [f'if [[ "$ROLES" == *" {role} "* ]]; then',
                      f"  SERVERS+=({' '.join(q(a) for a in args)})", "fi"]
    return lines


# `harness run` options that belong to one role: passed only to the tasks that use it
_ROLE_OPTIONS = {"judge": ("judge", "judge_gpus", "judge_api_key_env", "judge_cache"),
                 "user_sim": ("user_sim", "user_sim_gpus", "user_sim_api_key_env")}


def run_vllm_args(spec: JobSpec) -> list[str]:
    """The run's `--vllm-arg` values; a multi-node run adds `--distributed-executor-backend ray`."""
    opts = {k.replace("-", "_"): v for k, v in spec.run.items()}
    values = opts.get("vllm_arg") or []
    values = list(values) if isinstance(values, list) else [values]
    if spec.multi_node:
        extra = [a for v in values for a in shlex.split(v)]
        if not any(a == "--distributed-executor-backend" or a.startswith("--distributed-executor-backend=")
                   for a in extra):
            values.append("--distributed-executor-backend ray")
    return values


# Ray is not a dependency of vLLM: a multi-node job checks for it before `ray start` (harness[ray] installs it)
RAY_CHECK = ('command -v ray >/dev/null 2>&1 || { echo "multi-node jobs need Ray on every node and vLLM does not '
             "install it: pip install 'harness[ray]'\" >&2; exit 2; }")


def run_command(spec: JobSpec) -> str:
    opts = {k.replace("-", "_"): v for k, v in spec.run.items()}
    if spec.shards.by_benchmark:
        opts.pop("suite", None)
        opts.pop("benchmarks", None)
        opts.pop("team", None)  # each task runs one of the team's benchmarks by name
    if isinstance(opts.get("benchmarks"), list):
        opts["benchmarks"] = ",".join(opts["benchmarks"])
    for key in (k for keys in _ROLE_OPTIONS.values() for k in keys):  # in SERVERS, per task (_servers)
        opts.pop(key, None)
    if run_vllm_args(spec):
        opts["vllm_arg"] = run_vllm_args(spec)
    args = " ".join(q(a) for a in run_args(opts))
    return ('"${HARNESS[@]}" run ${SELECT[@]+"${SELECT[@]}"} ${SHARD[@]+"${SHARD[@]}"} '
            + (args + " " if args else "") + '${SERVERS[@]+"${SERVERS[@]}"} --out "$OUT" --no-progress')


def task_script(spec: JobSpec, layout: Layout, index_var: str, cluster: list[str] | None = None,
                k8s_urls: dict[str, str] | None = None) -> str:
    """The body of a run task. `cluster`: lines that form the multi-node Ray cluster (scheduler-specific)."""
    tasks = tasks_of(spec)
    lines = _header(spec, layout) + [""] + _case(spec, layout, tasks, index_var) + [""]
    lines += _servers(spec, layout, k8s_urls) + [""]
    if cluster:
        lines += cluster + [""]
    lines += [
        'mkdir -p "$OUT"',
        'echo "task $TASK -> $OUT" >&2',
        "status=0",
        run_command(spec) + " || status=$?",
        '# a marker for whoever waits on this task (the k8s merge step, people)',
        'echo "$status" > "$OUT/.job-exit"',
        'exit "$status"',
    ]
    return "\n".join(lines) + "\n"


def server_script(spec: JobSpec, layout: Layout, role: str, publish_url: bool = True) -> str:
    """The body of a separate judge / user-simulator server job: publish its URL, then exec the server."""
    s = spec.servers()[role]
    lines = _header(spec, layout) + [""]
    if publish_url:
        lines += [
            "# the address the run jobs use (HARNESS_SERVER_HOST overrides, e.g. an InfiniBand hostname)",
            'HOST="${HARNESS_SERVER_HOST:-$(hostname -I 2>/dev/null | awk \'{print $1}\')}"',
            'HOST="${HOST:-$(hostname)}"',
            'mkdir -p "$JOB_DIR/state"',
            f'echo "http://$HOST:{s.port}/v1" > "{url_file(layout, role)}.tmp"',
            f'mv "{url_file(layout, role)}.tmp" "{url_file(layout, role)}"',
        ]
    lines.append("exec " + " ".join(q(a) for a in s.serve_command()))
    return "\n".join(lines) + "\n"


def merge_dirs(spec: JobSpec, layout: Layout) -> list[str]:
    return [layout.shard_dir(spec, t) for t in tasks_of(spec)]


def merge_command(spec: JobSpec, layout: Layout) -> str:
    dirs = " ".join(f'"{d.replace(layout.results, "$RESULTS", 1)}"' for d in merge_dirs(spec, layout))
    return f'"${{HARNESS[@]}}" merge {dirs} --out "$RESULTS/{spec.name}" --force'


def config_files(spec: JobSpec) -> dict[str, str]:
    """The files every task reads from the job directory, name -> text: single-benchmark suites
    (`suite-<benchmark>.yaml`) and colocated servers' model specs (`<role>.yaml`). Flat names: on Kubernetes they
    are the keys of a ConfigMap."""
    _, suites = benchmark_groups(spec)
    files = {f"suite-{name}.yaml": text for name, text in suites.items()}
    for role, s in spec.servers().items():
        if s.mode == "colocated" and not s.model_spec:
            files[f"{role}.yaml"] = server_model_spec(s)
    return files


def require_single_node_sharding(spec: JobSpec, scheduler: str) -> None:
    if scheduler == "k8s" and spec.multi_node and spec.shards.sharded:
        raise ConfigError("k8s: a multi-node run is one Ray cluster serving the whole suite; drop `shards` or use "
                          "SLURM, where each array task gets its own nodes")
