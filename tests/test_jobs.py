"""Jobs: sharding, merging, SLURM scripts on a real local scheduler, Kubernetes manifests against the published
schemas, and the generated task scripts executed for real (scripted server standing in for vLLM)."""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from conftest import FIXTURES, REPO, SHARED_DATA, read_samples
from harness.errors import ConfigError, DataError
from harness.jobs import k8s, slurm
from harness.jobs.merge import merge_runs
from harness.jobs.shard import parse_shard, select_shard, task_table
from harness.jobs.spec import JobSpec, check, load_job_spec
from harness.schemas import validate_run_dir

cli = CliRunner()
HARNESS = f"{sys.executable} -m harness.cli"
SERVE = f"{sys.executable} -m harness.serve"
K8S_SCHEMAS = FIXTURES / "k8s" / "k8s-v1.30-strict.json"


def _app():
    from harness.cli import app

    return app


def _job_env() -> dict[str, str]:
    """What the jobs need from this test process: the data, and the harness under test."""
    env = {"HARNESS_DATA_DIR": str(SHARED_DATA)}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]
    return env


def _scripted_run(**kw) -> dict:
    """`harness run` options with the scripted OpenAI-compatible server standing in for `vllm serve`."""
    return {"engine": "vllm", "model": "scripted-model", "vllm_executable": SERVE, "vllm_arg": ["--backend scripted"],
            "max_tokens": 16, "temperature": 0, **kw}


def _spec(tmp_path: Path, **kw) -> JobSpec:
    data = {"name": "scripted", "run": _scripted_run(benchmarks="mmlu_pro,click", limit=5),
            "results": str(tmp_path / "results"), "harness": HARNESS, "workdir": str(REPO), "env": _job_env(),
            "resources": {"cpus_per_task": 1}, **kw}
    spec = JobSpec(**data)
    check(spec)
    return spec


# ---- shards -------------------------------------------------------------------------------------------------------

def test_shards_partition_the_samples_strided_and_balanced():
    items = list(range(23))
    shards = [select_shard(items, i, 4) for i in range(4)]
    assert sorted(x for s in shards for x in s) == items  # every sample once
    assert shards[1] == [1, 5, 9, 13, 17, 21]
    assert max(map(len, shards)) - min(map(len, shards)) <= 1
    assert select_shard(items[:2], 3, 4) == []
    assert parse_shard("3/4") == (3, 4)
    for bad in ("4/4", "-1/4", "1", "a/b", "0/0"):
        with pytest.raises(ConfigError, match="use I/N"):
            parse_shard(bad)
    tasks = task_table(["mmlu_pro", "click"], 3)
    assert [t.tag for t in tasks][:4] == ["mmlu_pro.shard-0of3", "mmlu_pro.shard-1of3", "mmlu_pro.shard-2of3",
                                          "click.shard-0of3"]
    assert [t.index for t in tasks] == list(range(6))


def _run_shard(srv, out: Path, shard: str | None, limit: int = 7, max_tokens: int = 16) -> None:
    args = ["run", "--benchmarks", "mmlu_pro,click", "--engine", "openai", "--model", srv.model, "--base-url",
            srv.base_url, "--limit", str(limit), "--max-tokens", str(max_tokens), "--temperature", "0",
            "--no-progress", "--out", str(out)]
    r = cli.invoke(_app(), args + (["--shard", shard] if shard else []))
    assert r.exit_code == 0, r.output


def test_sharded_runs_merge_into_the_unsharded_run(tmp_path, scripted_server):
    with scripted_server() as srv:
        _run_shard(srv, tmp_path / "whole", None)
        for i in range(3):
            _run_shard(srv, tmp_path / f"s{i}", f"{i}/3")
    shard0 = json.loads((tmp_path / "s0" / "manifest.json").read_text())["benchmarks"]["mmlu_pro"]
    assert shard0["samples"] == 3 and shard0["shard"]["index"] == 0 and shard0["shard"]["of_samples"] == 7
    summary = merge_runs([tmp_path / f"s{i}" for i in (2, 0, 1)], tmp_path / "merged")
    assert validate_run_dir(tmp_path / "merged") == []
    whole = json.loads((tmp_path / "whole" / "manifest.json").read_text())["benchmarks"]
    merged = json.loads((tmp_path / "merged" / "manifest.json").read_text())["benchmarks"]
    ref = json.loads((tmp_path / "whole" / "summary.json").read_text())["benchmarks"]
    for b in ("mmlu_pro", "click"):
        # the merged manifest says what one unsharded run would have said
        assert merged[b]["sample_ids_sha256"] == whole[b]["sample_ids_sha256"]
        assert merged[b]["samples"] == whole[b]["samples"] == 7 and "shard" not in merged[b]
        for k in ("score", "n", "stderr", "ci95", "items", "items_expected", "valid"):
            assert summary["benchmarks"][b][k] == ref[b][k], (b, k)
    assert summary["complete"]
    key = lambda r: (r["benchmark"], r["sample_id"], r["repeat"])  # noqa: E731
    assert sorted(map(key, read_samples(tmp_path / "merged"))) == sorted(map(key, read_samples(tmp_path / "whole")))


def test_merge_refuses_parts_that_are_not_one_run(tmp_path, scripted_server):
    with scripted_server() as srv:
        _run_shard(srv, tmp_path / "s0", "0/2")
        _run_shard(srv, tmp_path / "s1", "1/2")
        _run_shard(srv, tmp_path / "s1-other", "1/2", max_tokens=32)
        _run_shard(srv, tmp_path / "t0", "0/3")
    with pytest.raises(DataError, match=r"shards 1/2 are missing"):
        merge_runs([tmp_path / "s0"], tmp_path / "m1")
    partial = merge_runs([tmp_path / "s0"], tmp_path / "m1", allow_partial=True)
    assert not partial["complete"] and not partial["benchmarks"]["mmlu_pro"]["valid"]
    with pytest.raises(ConfigError, match=r"differ in generation"):
        merge_runs([tmp_path / "s0", tmp_path / "s1-other"], tmp_path / "m2")
    with pytest.raises(ConfigError, match=r"shard 0/2 is in both"):
        merge_runs([tmp_path / "s0", tmp_path / "s0", tmp_path / "s1"], tmp_path / "m3")
    with pytest.raises(ConfigError, match=r"different sample lists or shard counts"):
        merge_runs([tmp_path / "s0", tmp_path / "t0"], tmp_path / "m4")
    with pytest.raises(DataError, match=r"no manifest.json"):
        merge_runs([tmp_path / "s0", tmp_path / "nowhere"], tmp_path / "m5")
    merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m6")
    with pytest.raises(ConfigError, match=r"exists and is not empty.*--force"):
        merge_runs([tmp_path / "s0", tmp_path / "s1"], tmp_path / "m6")
    assert not (tmp_path / "m2").exists()  # a refused merge leaves nothing behind


def test_job_spec_errors_are_named(tmp_path):
    with pytest.raises(ConfigError, match=r"run.temprature.*no such option.*temperature"):
        _spec(tmp_path, run={"temprature": 0})
    with pytest.raises(ConfigError, match=r"run.out.*not allowed"):
        _spec(tmp_path, run={"out": "x"})
    with pytest.raises(ConfigError, match=r"run.judge.*judge:.*section"):
        _spec(tmp_path, run={"judge": "openai:j@http://x/v1"}, judge={"mode": "external", "model": "j",
                                                                      "url": "http://x/v1"})
    with pytest.raises(ValueError, match="name must be lowercase"):
        JobSpec(name="Bad_Name")
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nresources: {nodez: 2}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml: invalid JobSpec(.|\n)*nodez"):
        load_job_spec(bad)
    spec = _spec(tmp_path, run=_scripted_run(benchmarks="mmlu_pro"), resources={"nodes": 2},
                 shards={"samples": 2}, k8s={"image": "x"}, results="/results")
    with pytest.raises(ConfigError, match="multi-node run is one Ray cluster"):
        k8s.render(spec)


def test_run_options_table_is_the_run_command():
    """Job specs read `harness run`'s options from harness.run_options (data, no CLI import); it must be exactly the
    `run` command's options, flags, repeatable ones and on/off switches."""
    import typer.main

    from harness.run_options import RUN_OPTIONS

    run = typer.main.get_command(_app()).commands["run"]
    want = {p.name: (p.opts[0], bool(p.multiple), p.secondary_opts[0] if p.secondary_opts else None)
            for p in run.params}
    assert {n: (o.flag, o.multiple, o.negative) for n, o in RUN_OPTIONS.items()} == want


def test_a_team_job_runs_the_teams_runnable_benchmarks_one_per_task(tmp_path):
    """`run: {team: FILE}` picks the benchmarks `harness run --team` would (one it cannot run left out) and, split
    by benchmark, gives each array task one of them by name (never --team beside --benchmarks)."""
    from harness.jobs import slurm

    team = tmp_path / "team.yaml"
    team.write_text("team: T\nmodel: M\ntarget: null\nindividual_count: 3\nindividual:\n"
                    "  - {benchmark: mmlu_pro, chosen_by: team}\n  - {benchmark: click, chosen_by: team}\n"
                    "  - {benchmark: no_such_benchmark, chosen_by: ministry}\n")
    spec = _spec(tmp_path, run=_scripted_run(team=str(team), limit=5), shards={"by_benchmark": True})
    files = slurm.render(spec, tmp_path / "job")
    text = "\n".join(files.values())
    assert "--benchmarks mmlu_pro" in text and "--benchmarks click" in text
    assert "no_such_benchmark" not in text and "--team" not in text
    with pytest.raises(ConfigError, match="one of suite, benchmarks or team"):
        _spec(tmp_path, run=_scripted_run(team=str(team), benchmarks="mmlu_pro"))


def test_job_specs_do_not_import_the_cli(tmp_path):
    """Checking a spec and writing its scripts never loads harness.cli (the CLI imports the jobs: no cycle), and no
    module of harness but the CLI itself imports it."""
    code = ("import sys\n"
            "from harness.jobs import k8s, script, slurm, spec\n"
            "s = spec.JobSpec(name='x', run={'benchmarks': 'mmlu_pro', 'vllm-arg': ['--a 1', '--b'], 'tp': 2})\n"
            "spec.check(s)\n"
            "print(' '.join(spec.run_args({**s.run, 'progress': False})))\n"
            "print(sorted(m for m in sys.modules if m == 'harness.cli' or m.startswith('typer')))\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    args, loaded = r.stdout.splitlines()
    assert args == "--benchmarks mmlu_pro --vllm-arg --a 1 --vllm-arg --b --tp 2 --no-progress"
    assert "harness.cli" not in loaded
    import ast

    for path in sorted((REPO / "harness").rglob("*.py")):
        if path == REPO / "harness" / "cli.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
                     if isinstance(node, ast.ImportFrom) else [])
            assert "harness.cli" not in names, f"{path.relative_to(REPO)} imports harness.cli"


# ---- SLURM --------------------------------------------------------------------------------------------------------

def _bash_n(path: Path) -> None:
    r = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
    assert r.returncode == 0, f"{path.name}: {r.stderr}"


def test_multi_node_script_forms_a_ray_cluster_then_serves_tp_pp_on_it(tmp_path):
    """The multi-node run.sbatch, executed by bash with stand-ins for srun / scontrol / ray on PATH: Ray head
    first, then one worker per other node at the head's address, then vLLM with TP × PP on the Ray backend."""
    spec = _spec(tmp_path, run=_scripted_run(benchmarks="aime2025", limit=2, tp=8, pp=4),
                 resources={"nodes": 4, "gpus_per_node": 8, "time": "04:00:00", "partition": "gpu"})
    paths = slurm.write(spec, tmp_path / "job")
    for p in paths:
        if p.suffix in (".sh", ".sbatch"):
            _bash_n(p)
    text = (tmp_path / "job" / "run.sbatch").read_text()
    for line in ("#SBATCH --nodes=4", "#SBATCH --gpus-per-node=8", "#SBATCH --partition=gpu",
                 "#SBATCH --time=04:00:00"):
        assert line in text
    assert "--array" not in text

    bin_ = tmp_path / "bin"
    bin_.mkdir()
    calls = tmp_path / "calls.log"
    fakes = {
        "scontrol": 'printf "gpu-a\\ngpu-b\\ngpu-c\\ngpu-d\\n"',
        "hostname": 'echo 10.0.0.1',
        "srun": f'echo "srun $*" >> {calls}; while [ "${{1#-}}" != "$1" ]; do [ "$1" = -w ] && shift; shift; done; '
                'exec "$@"',
        "ray": f'echo "ray $*" >> {calls}; echo started >> {tmp_path}/ray-nodes; '
               'case "$*" in *--block*) exec sleep 600 ;; esac',
        # stands in for `harness` only for `jobs wait-ray` (no Ray here); everything else is the real harness
        "harness-shim": f'if [ "$1 $2" = "jobs wait-ray" ]; then '
                        f'n=$(echo "$*" | sed "s/.*--nodes \\([0-9]*\\).*/\\1/");'
                        f' for i in $(seq 100); do [ "$(wc -l < {tmp_path}/ray-nodes 2>/dev/null || echo 0)" -ge "$n" ]'
                        f' && {{ echo "ray $* ok" >> {calls}; exit 0; }}; sleep 0.1; done; exit 1; fi; '
                        f'exec {HARNESS} "$@"',
    }
    for name, body in fakes.items():
        p = bin_ / name
        p.write_text("#!/bin/bash\n" + body + "\n")
        p.chmod(p.stat().st_mode | stat.S_IEXEC)
    script = text.replace(f"HARNESS=({' '.join(HARNESS.split())})", f"HARNESS=({bin_ / 'harness-shim'})")
    (tmp_path / "run-local.sh").write_text(script)
    env = {**os.environ, "PATH": f"{bin_}:{os.environ['PATH']}", "SLURM_JOB_NODELIST": "gpu-[a-d]"}
    r = subprocess.run(["bash", str(tmp_path / "run-local.sh")], env=env, capture_output=True, text=True,
                       timeout=300)
    # the scripted server cannot answer AIME: the run completes, flagged invalid, and the script passes the exit code on
    assert r.returncode == 3 and "invalid: aime2025: unparsed_rate 100.0%" in r.stderr, r.stderr[-3000:]
    log = calls.read_text().splitlines()
    head = next(i for i, ln in enumerate(log) if ln.startswith("ray start --head --node-ip-address=10.0.0.1 "
                                                                 "--port=6379 --num-gpus=8 --block"))
    workers = [i for i, ln in enumerate(log) if ln.startswith("ray start --address=10.0.0.1:6379 --num-gpus=8 --block")]
    assert len(workers) == 3 and head < min(workers)
    assert {f"-w gpu-{c}" in " ".join(log) for c in "bcd"} == {True}
    assert any("--nodes 4" in ln and "ok" in ln for ln in log)
    out = tmp_path / "results" / "scripted"
    served = (out / "server.log").read_text()
    assert re.search(r"--tensor-parallel-size 8 --pipeline-parallel-size 4 .*--distributed-executor-backend ray",
                     served)
    assert validate_run_dir(out) == [] and (out / ".job-exit").read_text().strip() == "3"  # invalid, passed on


def _slurm_installed() -> bool:
    return all(shutil.which(b) for b in ("slurmctld", "slurmd", "sbatch", "squeue", "munged"))


@pytest.fixture(scope="module")
def slurm_conf():
    """A real single-node SLURM on this host (scripts/slurm-local.sh). Skipped only outside CI when SLURM is not
    installed; in CI a missing or broken SLURM fails the test."""
    if not _slurm_installed():
        msg = ("SLURM is not installed: apt-get install -y --no-install-recommends slurmctld slurmd slurm-client "
               "munge")
        if os.environ.get("CI"):
            pytest.fail(msg)
        pytest.skip(msg)
    d = Path("/tmp/harness-slurm-test")
    script = REPO / "scripts" / "slurm-local.sh"
    r = subprocess.run(["bash", str(script), "start", str(d)], capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, f"local SLURM did not start:\n{r.stdout}\n{r.stderr}"
    yield str(d / "slurm.conf")
    subprocess.run(["bash", str(script), "stop", str(d)], capture_output=True, timeout=60)


def _jobcomp(conf: str) -> dict[str, str]:
    """Final state of every finished job from the local cluster's job completion log: 'JOB[_TASK]' -> state."""
    text = (Path(conf).parent / "log" / "jobcomp.txt").read_text()
    out = {}
    for line in text.splitlines():
        f = dict(kv.split("=", 1) for kv in line.split() if "=" in kv)
        jid = f["JobId"]
        if f.get("ArrayJobId") and f.get("ArrayTaskId") not in (None, "", "4294967294"):
            jid = f"{f['ArrayJobId']}_{f['ArrayTaskId']}"
        out[jid] = f["JobState"]
    return out


def test_array_job_with_judge_server_runs_on_real_slurm_and_merges(tmp_path, slurm_conf):
    suite = tmp_path / "mini.yaml"
    suite.write_text(yaml.safe_dump({"name": "mini", "generation": {"temperature": 0.0, "max_tokens": 16},
                                     "benchmarks": [{"name": "mmlu_pro", "limit": 5}, {"name": "hle", "limit": 3}]}))
    from harness.engine.vllm import reserve_port

    verdicts = tmp_path / "verdicts.json"  # the judge server's one answer: an HLE verdict it can read
    verdicts.write_text(json.dumps([{"match": "", "reply": "extracted_final_answer: A\nreasoning: same\n"
                                     "correct: yes\nconfidence: 90"}]))
    spec = _spec(tmp_path, name="mini", run={**{k: v for k, v in _scripted_run(suite=str(suite)).items()
                                                if k not in ("max_tokens", "temperature")},
                                             "data_dir": [str(FIXTURES)]},
                 shards={"by_benchmark": True, "samples": 2},
                 judge={"mode": "separate", "model": "judge-model", "executable": SERVE,
                        "args": [f"--backend scripted --reply-file {verdicts}"], "port": reserve_port(),
                        "startup_timeout": 120})
    job = tmp_path / "job"
    slurm.write(spec, job)
    env = {**os.environ, "SLURM_CONF": slurm_conf}
    r = subprocess.run(["bash", str(job / "submit.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    ids = dict(ln.split("=", 1) for ln in (job / "state" / "jobs.env").read_text().split())
    all_ids = [ids["RUN_JOB"], ids["FINISH_JOB"], ids["SERVER_JOBS"]]
    deadline = time.monotonic() + 420
    while time.monotonic() < deadline:
        q = subprocess.run(["squeue", "-h", "-j", ",".join(all_ids)], env=env, capture_output=True, text=True)
        if q.returncode == 0 and not q.stdout.strip():
            break
        time.sleep(2)
    else:
        subprocess.run(["scancel", *all_ids], env=env)
        pytest.fail("jobs did not finish in 7 minutes:\n" + "\n".join(
            p.name + ":\n" + p.read_text()[-1500:] for p in sorted((job / "logs").glob("*"))))
    logs = "\n".join(p.name + ":\n" + p.read_text()[-1500:] for p in sorted((job / "logs").glob("*")))
    states = _jobcomp(slurm_conf)
    for t in range(4):
        assert states.get(f"{ids['RUN_JOB']}_{t}") == "COMPLETED", logs
    assert states.get(ids["FINISH_JOB"]) == "COMPLETED", logs
    assert states.get(ids["SERVER_JOBS"]) == "CANCELLED", logs  # the finish job stopped the judge server

    merged = tmp_path / "results" / "mini"
    assert validate_run_dir(merged) == []
    summary = json.loads((merged / "summary.json").read_text())
    assert summary["complete"] and set(summary["benchmarks"]) == {"mmlu_pro", "hle"}
    assert summary["benchmarks"]["mmlu_pro"]["n"] == 5 and summary["benchmarks"]["hle"]["n"] == 3
    url = (job / "state" / "judge.url").read_text().strip()
    task = json.loads((tmp_path / "results" / "mini.shards" / "hle.shard-1of2" / "manifest.json").read_text())
    assert url in json.dumps(task["roles"]["judge"])  # the judged benchmark's tasks reached the judge job's server
    assert task["benchmarks"]["hle"]["generation"]["max_tokens"] == 16  # the suite's settings survived the split
    # the others were not given the judge (issue 16): their runs never waited for or contacted it
    plain = json.loads((tmp_path / "results" / "mini.shards" / "mmlu_pro.shard-0of2" / "manifest.json").read_text())
    assert "judge" not in plain["roles"]


# ---- Kubernetes ---------------------------------------------------------------------------------------------------

def _validator(kind_key: str):
    from jsonschema import Draft202012Validator

    schemas = json.loads(K8S_SCHEMAS.read_text())
    return Draft202012Validator({**schemas["kinds"][kind_key], "$defs": schemas["$defs"]})


def _k8s_problems(objs: list[dict]) -> list[str]:
    out = []
    for o in objs:
        for e in _validator(f"{o['apiVersion']}/{o['kind']}").iter_errors(o):
            out.append(f"{o['kind']}/{o['metadata']['name']}: {list(e.absolute_path)}: {e.message}")
    return out


def test_k8s_manifests_validate_against_the_kubernetes_schemas(tmp_path):
    spec = JobSpec(name="qwen3-common13", results="/results", harness="harness",
                   run={"suite": "common13", "model_config": "/models/qwen3.yaml", "engine": "vllm", "tp": 8,
                        "tool_call_parser": "hermes", "vllm_arg": ["--gpu-memory-utilization 0.8"],
                        "protocol": "stage1", "data_dir": ["/data/bundle"]},
                   resources={"gpus_per_node": 8, "cpus_per_task": 32, "mem": "400Gi"},
                   shards={"by_benchmark": True, "samples": 2, "parallel": 4},
                   judge={"mode": "separate", "model": "openai/gpt-oss-120b", "tp": 2},
                   user_sim={"mode": "colocated", "model": "Qwen/Qwen3-32B", "tool_call_parser": "hermes",
                             "args": ["--gpu-memory-utilization 0.12"]},
                   k8s={"image": "registry.local/harness:0.1", "namespace": "evals",
                        "volumes": {"/data": "bench-data", "/results": "bench-results"}})
    check(spec)
    objs, files = k8s.render(spec)
    kinds = [f"{o['kind']}/{o['metadata']['name']}" for o in objs]
    assert kinds == ["ConfigMap/qwen3-common13-job", "Deployment/qwen3-common13-judge",
                     "Service/qwen3-common13-judge", "Job/qwen3-common13-run", "Job/qwen3-common13-merge"]
    assert _k8s_problems(objs) == []
    run = objs[3]["spec"]
    assert run["completionMode"] == "Indexed" and run["completions"] == 26 and run["parallelism"] == 4
    assert run["template"]["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "8"}
    assert objs[1]["spec"]["template"]["spec"]["containers"][0]["resources"]["limits"] == {"nvidia.com/gpu": "2"}
    assert "http://qwen3-common13-judge.evals.svc:8000/v1" in files["run.sh"]
    assert '--user-sim "$JOB_DIR/user_sim.yaml"' in files["run.sh"]
    for name, text in files.items():
        if name.endswith(".sh"):
            p = tmp_path / name
            p.write_text(text)
            _bash_n(p)
    # the validator is not vacuous: a misspelt field and a wrong type are caught
    bad = json.loads(json.dumps(objs[3]))
    bad["spec"]["template"]["spec"]["containers"][0]["imagePullPolicyy"] = "Always"
    bad["spec"]["completions"] = "26"
    assert len(_k8s_problems([bad])) == 2

    multi = spec.model_copy(update={"shards": spec.shards.model_copy(update={"by_benchmark": False, "samples": 1}),
                                    "resources": spec.resources.model_copy(update={"nodes": 4}),
                                    "judge": None, "user_sim": None})
    objs, files = k8s.render(multi)
    assert _k8s_problems(objs) == []
    sts = next(o for o in objs if o["kind"] == "StatefulSet")
    svc = next(o for o in objs if o["kind"] == "Service")
    assert sts["spec"]["replicas"] == 3 and svc["spec"]["clusterIP"] == "None"
    assert svc["spec"]["selector"] == objs[1]["spec"]["template"]["metadata"]["labels"]  # resolves to the head pod
    assert "--distributed-executor-backend ray" in files["run.sh"] and "ray start --head" in files["run.sh"]
    assert "qwen3-common13-ray.evals.svc:6379" in files["ray-worker.sh"]


def test_k8s_task_scripts_run_and_merge_for_real(tmp_path, scripted_server):
    """The ConfigMap's run.sh for each index of the Indexed Job and then merge.sh, executed by bash here (the
    kubelet's part, starting containers, is all that is not exercised)."""
    with scripted_server(model="judge-model") as judge:
        spec = JobSpec(name="mini", results=str(tmp_path / "results"), harness=HARNESS, workdir=str(REPO),
                       env=_job_env(), run=_scripted_run(benchmarks="mmlu_pro", limit=5),
                       shards={"samples": 3},
                       judge={"mode": "external", "model": "judge-model", "url": judge.base_url},
                       k8s={"image": "x", "volumes": {str(tmp_path / "results"): "results"}})
        check(spec)
        objs, files = k8s.render(spec)
        assert _k8s_problems(objs) == []
        cfg = tmp_path / "etc-harness-job"
        cfg.mkdir()
        for name, text in files.items():
            (cfg / name).write_text(text)
        env = {**os.environ, "HARNESS_JOB_DIR": str(cfg), "HARNESS_MERGE_POLL": "1"}
        merge = subprocess.Popen(["bash", str(cfg / "merge.sh")], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True)
        for i in range(3):
            r = subprocess.run(["bash", str(cfg / "run.sh")], env={**env, "JOB_COMPLETION_INDEX": str(i)},
                               capture_output=True, text=True, timeout=180)
            assert r.returncode == 0, r.stderr[-3000:]
        out, errs = merge.communicate(timeout=120)
    assert merge.returncode == 0, errs[-3000:]
    merged = tmp_path / "results" / "mini"
    assert validate_run_dir(merged) == []
    s = json.loads((merged / "summary.json").read_text())
    assert s["complete"] and s["benchmarks"]["mmlu_pro"]["n"] == 5
    task = json.loads((tmp_path / "results" / "mini.shards" / "shard-2of3" / "manifest.json").read_text())
    # mmlu_pro uses no judge: the tasks are not given it (issue 16), so no run contacts it
    assert judge.base_url not in json.dumps(task["roles"]) and '--judge' in files["run.sh"]
    assert 'ROLES=""' in files["run.sh"] and '*" judge "*' in files["run.sh"]
