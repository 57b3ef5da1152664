"""SLURM: `harness jobs slurm SPEC --out DIR` writes

    DIR/run.sbatch        the run: one job, or an array (one task per benchmark and/or sample shard); multi-node
                          tasks form a Ray cluster over their nodes and vLLM (TP × PP) runs on it
    DIR/<role>.sbatch     a separate judge / user-simulator server (vLLM) that the run tasks reach over the network
    DIR/finish.sbatch     after the run (ok or not): merge the shards into <results>/<name>, cancel the servers
    DIR/submit.sh         submits them in order with dependencies; job ids go to DIR/state/jobs.env
    DIR/suite-*.yaml, DIR/<role>.yaml   files the tasks read
    DIR/logs/             job output

DIR must be on storage that every node sees (as must <results>). Re-submitting resumes: each task's run directory
keeps its finished items.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from harness.jobs.script import (RAY_CHECK, Layout, config_files, merge_command, server_script, sh_path,
                                 task_script, tasks_of)
from harness.jobs.spec import JobSpec, Resources

q = shlex.quote


def _directives(name: str, r: Resources, log: str, array: str | None = None, gpus: int | None = None,
                workdir: str | None = None) -> list[str]:
    d = [f"--job-name={name}", f"--output={log}", f"--nodes={r.nodes}", "--ntasks-per-node=1"]
    g = r.gpus_per_node if gpus is None else gpus
    if g:
        d.append(f"--gpus-per-node={g}")
    for flag, v in (("cpus-per-task", r.cpus_per_task), ("mem", r.mem), ("time", r.time),
                    ("partition", r.partition), ("account", r.account), ("qos", r.qos),
                    ("constraint", r.constraint), ("array", array), ("chdir", workdir)):
        if v is not None:
            d.append(f"--{flag}={v}")
    d += r.sbatch
    return ["#!/bin/bash"] + [f"#SBATCH {x}" for x in d]


def ray_cluster(spec: JobSpec) -> list[str]:
    """Lines that start Ray on every node of the allocation (head = this, the batch node) and wait for all GPUs."""
    r, port = spec.resources, spec.ray_port
    g = r.gpus_per_node
    return [
        f"# multi-node: Ray over the job's {r.nodes} nodes; vLLM, started by the harness on this (the first) node,",
        "# places its tensor / pipeline parallel workers on it (--distributed-executor-backend ray)",
        RAY_CHECK,
        'mapfile -t NODES < <(scontrol show hostnames "$SLURM_JOB_NODELIST")',
        'HEAD_IP="${HARNESS_RAY_HEAD_IP:-$(hostname -I | awk \'{print $1}\')}"',
        f'export RAY_ADDRESS="$HEAD_IP:{port}"',
        'export VLLM_HOST_IP="$HEAD_IP"',
        'RAY_PIDS=()',
        "trap 'kill \"${RAY_PIDS[@]}\" 2>/dev/null || true' EXIT",
        f'srun --nodes=1 --ntasks=1 --overlap -w "${{NODES[0]}}" ray start --head --node-ip-address="$HEAD_IP" '
        f'--port={port} --num-gpus={g} --block &',
        'RAY_PIDS+=($!)',
        '"${HARNESS[@]}" jobs wait-ray --address "$RAY_ADDRESS" --nodes 1 --timeout 600',
        'for node in "${NODES[@]:1}"; do',
        '  srun --nodes=1 --ntasks=1 --overlap -w "$node" bash -c '
        f'"{RAY_CHECK.replace(chr(34), chr(92) + chr(34))}; '
        f'export VLLM_HOST_IP=\\$(hostname -I | awk \'{{print \\$1}}\'); exec ray start --address=$RAY_ADDRESS '
        f'--num-gpus={g} --block" &',
        '  RAY_PIDS+=($!)',
        'done',
        f'"${{HARNESS[@]}}" jobs wait-ray --address "$RAY_ADDRESS" --nodes {r.nodes} --timeout 900',
    ]


def render(spec: JobSpec, job_dir: Path) -> dict[str, str]:
    """File name -> text of everything `harness jobs slurm` writes into `job_dir` (an absolute path)."""
    job_dir = Path(job_dir).resolve()
    results = str(Path(spec.results).resolve()) if not spec.results.startswith("$") else spec.results
    layout = Layout(job_dir=str(job_dir), results=results)
    workdir = spec.workdir or str(Path.cwd())
    spec = spec.model_copy(update={"workdir": workdir})
    tasks = tasks_of(spec)
    files: dict[str, str] = dict(config_files(spec))

    array = None
    if len(tasks) > 1:
        array = f"0-{len(tasks) - 1}" + (f"%{spec.shards.parallel}" if spec.shards.parallel else "")
    log = f"{job_dir}/logs/%x-%A_%a.out" if array else f"{job_dir}/logs/%x-%j.out"
    body = task_script(spec, layout, "SLURM_ARRAY_TASK_ID", cluster=ray_cluster(spec) if spec.multi_node else None)
    files["run.sbatch"] = "\n".join(_directives(spec.name, spec.resources, log, array, workdir=workdir)) + "\n" + body

    separate = {r: s for r, s in spec.servers().items() if s.mode == "separate"}
    for role, s in separate.items():
        res = s.resources.model_copy(update={"time": s.resources.time or spec.resources.time,
                                             "partition": s.resources.partition or spec.resources.partition,
                                             "account": s.resources.account or spec.resources.account})
        gpus = res.gpus_per_node or (s.tp if "vllm" in s.executable else 0)
        head = _directives(f"{spec.name}-{role.replace('_', '-')}", res, f"{job_dir}/logs/%x-%j.out", gpus=gpus,
                           workdir=workdir)
        files[f"{role}.sbatch"] = "\n".join(head) + "\n" + server_script(spec, layout, role)

    finish = Resources(nodes=1, cpus_per_task=1, time="01:00:00", partition=spec.resources.partition,
                       account=spec.resources.account, qos=spec.resources.qos)
    lines = _directives(f"{spec.name}-finish", finish, f"{job_dir}/logs/%x-%j.out", workdir=workdir)
    lines += ["set -uo pipefail", *spec.setup, *(f"export {k}={q(v)}" for k, v in spec.environment.items()),
              f"RESULTS={sh_path(layout.results)}", f"HARNESS=({' '.join(q(a) for a in shlex.split(spec.harness))})",
              "status=0"]
    if spec.shards.sharded:
        lines += ["# merge the tasks' run directories into one (fails, naming them, if a task did not finish)",
                  merge_command(spec, layout) + " || status=$?"]
    lines += ['if [ -n "${HARNESS_SERVER_JOBS:-}" ]; then scancel ${HARNESS_SERVER_JOBS//:/ } || true; fi',
              'exit "$status"']
    files["finish.sbatch"] = "\n".join(lines) + "\n"
    files["submit.sh"] = _submit(spec, list(separate))
    return files


def _submit(spec: JobSpec, servers: list[str]) -> str:
    lines = [
        "#!/bin/bash",
        f"# submits {spec.name}: " + " -> ".join([*(f"{r} server" for r in servers), "run", "finish"]),
        "set -euo pipefail",
        'cd "$(dirname "$0")"',
        "mkdir -p logs state",
        "rm -f state/*.url",
        'submit() { sbatch --parsable "$@" | cut -d";" -f1; }',
        'SERVER_JOBS=""',
        'DEPS=""',
    ]
    for role in servers:
        v = role.upper()
        lines += [f"{v}_JOB=$(submit {role}.sbatch)",
                  f'SERVER_JOBS="${{SERVER_JOBS:+$SERVER_JOBS:}}${v}_JOB"',
                  f'DEPS="${{DEPS:+$DEPS,}}after:${v}_JOB"']
    lines += [
        'RUN_JOB=$(submit ${DEPS:+--dependency=$DEPS} run.sbatch)',
        'FINISH_JOB=$(submit --dependency=afterany:$RUN_JOB --export=ALL,HARNESS_SERVER_JOBS=$SERVER_JOBS '
        'finish.sbatch)',
        "{",
        '  echo "RUN_JOB=$RUN_JOB"',
        '  echo "FINISH_JOB=$FINISH_JOB"',
        '  echo "SERVER_JOBS=$SERVER_JOBS"',
        "} > state/jobs.env",
        'echo "submitted: run $RUN_JOB, finish $FINISH_JOB${SERVER_JOBS:+, servers $SERVER_JOBS}"',
    ]
    return "\n".join(lines) + "\n"


def write(spec: JobSpec, job_dir: Path) -> list[Path]:
    job_dir = Path(job_dir).resolve()
    (job_dir / "logs").mkdir(parents=True, exist_ok=True)
    (job_dir / "state").mkdir(exist_ok=True)
    paths = []
    for name, text in render(spec, job_dir).items():
        p = job_dir / name
        p.write_text(text, encoding="utf-8")
        if name.endswith((".sh", ".sbatch")):
            p.chmod(0o755)
        paths.append(p)
    return paths
