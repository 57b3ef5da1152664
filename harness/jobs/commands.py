"""CLI commands for batch jobs, merging, the reproducibility audit and offline data bundles. `register(app)` adds

    harness jobs slurm SPEC --out DIR [--submit]    harness jobs k8s SPEC --out FILE
    harness jobs wait-server / wait-ray             (used inside generated jobs)
    harness merge DIR... --out DIR                  harness verify RUN_DIR
    harness data pull --suite NAME --out BUNDLE     harness data verify BUNDLE
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import time
from pathlib import Path
from typing import List, Optional

import typer

from harness.errors import ConfigError, EngineError, HarnessError


def _fail(e: Exception) -> None:
    typer.echo(f"error: {e}", err=True)
    raise typer.Exit(2)


def _load_spec(path: Path):
    from harness.jobs.spec import load_job_spec

    return load_job_spec(path)


def jobs_app() -> typer.Typer:
    jobs = typer.Typer(help="Generate SLURM / Kubernetes jobs from a job spec YAML (see docs/jobs.md).",
                       no_args_is_help=True, rich_markup_mode=None)

    @jobs.command("slurm")
    def slurm_cmd(spec: Path = typer.Argument(..., help="job spec YAML"),
                  out: Path = typer.Option(..., help="directory for the scripts (on storage all nodes see)"),
                  submit: bool = typer.Option(False, help="run submit.sh now (sbatch)")):
        """sbatch scripts: run (array when sharded), separate judge / user-simulator servers, finish (merge), and
        submit.sh chaining them."""
        from harness.jobs import slurm

        try:
            paths = slurm.write(_load_spec(spec), out)
        except HarnessError as e:
            _fail(e)
        for p in paths:
            typer.echo(f"written: {p}")
        if submit:
            r = subprocess.run(["bash", str(Path(out) / "submit.sh")], capture_output=True, text=True)
            typer.echo(r.stdout.strip())
            if r.returncode:
                typer.echo(r.stderr.strip(), err=True)
                raise typer.Exit(r.returncode)

    @jobs.command("k8s")
    def k8s_cmd(spec: Path = typer.Argument(..., help="job spec YAML with a `k8s:` section"),
                out: str = typer.Option(..., help="the multi-document YAML to write (kubectl apply -f FILE), or a "
                                        "directory (an existing one, a path ending in /, or one without .yaml) to "
                                        "write <job name>.yaml into")):
        """Kubernetes manifests (Job / Indexed Job, StatefulSet + headless Service for multi-node Ray,
        Deployment + Service for separate servers, ConfigMap with the task scripts)."""
        from harness.jobs import k8s

        try:
            job = _load_spec(spec)
            objs, _ = k8s.render(job)
        except HarnessError as e:
            _fail(e)
        path = Path(out)
        if out.endswith(("/", os.sep)) or path.is_dir() or path.suffix.lower() not in (".yaml", ".yml"):
            path = path / f"{job.name}.yaml"  # `--out k8s/`: a file in that directory, not a file named k8s
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(k8s.to_yaml(objs), encoding="utf-8")
        except OSError as e:
            _fail(ConfigError(f"cannot write {path}: {e.strerror or e}"))
        typer.echo(f"written: {path} ({', '.join(o['kind'] + '/' + o['metadata']['name'] for o in objs)})")

    @jobs.command("wait-server")
    def wait_server(url: Optional[str] = typer.Option(None, help="base URL, e.g. http://judge:8000/v1"),
                    url_file: Optional[Path] = typer.Option(None, help="file the server job writes its URL to"),
                    timeout: float = typer.Option(3600, help="seconds")):
        """Wait until an OpenAI-compatible server answers /v1/models; print its base URL."""
        from harness.engine.client import wait_healthy

        deadline = time.monotonic() + timeout
        try:
            if (url is None) == (url_file is None):
                raise ConfigError("give --url or --url-file")
            while url is None:
                if url_file.exists() and url_file.read_text().strip():
                    url = url_file.read_text().strip()
                elif time.monotonic() > deadline:
                    raise EngineError(f"{url_file} did not appear within {timeout:.0f}s; did the server job start? "
                                      "(squeue; its log is in the job's logs/)")
                else:
                    time.sleep(1)
            asyncio.run(wait_healthy(url, max(1.0, deadline - time.monotonic())))
        except HarnessError as e:
            _fail(e)
        typer.echo(url)

    @jobs.command("wait-ray")
    def wait_ray(address: str = typer.Option(..., help="Ray head HOST:PORT"),
                 nodes: int = typer.Option(..., help="nodes expected in the cluster"),
                 timeout: float = typer.Option(900, help="seconds")):
        """Wait until a Ray cluster has `nodes` live nodes (multi-node vLLM jobs)."""
        try:
            import ray
        except ImportError:
            _fail(EngineError("multi-node jobs need Ray on every node, and vLLM does not install it: "
                              "pip install 'harness[ray]'"))
        deadline = time.monotonic() + timeout
        alive = 0
        while time.monotonic() < deadline:
            try:
                ray.init(address=address, logging_level="ERROR", log_to_driver=False)
                alive = sum(1 for n in ray.nodes() if n.get("Alive"))
                ray.shutdown()
            except Exception:  # noqa: BLE001 - the head may not be up yet
                alive = 0
            if alive >= nodes:
                typer.echo(f"ray: {alive} nodes up at {address}")
                return
            time.sleep(5)
        _fail(EngineError(f"ray at {address}: {alive} of {nodes} nodes joined within {timeout:.0f}s; check the "
                          "worker nodes' logs (network, NCCL/GLOO interface, ray versions)"))

    return jobs


def data_app() -> typer.Typer:
    data = typer.Typer(help="Offline data bundles for air-gapped clusters.", no_args_is_help=True,
                       rich_markup_mode=None)

    @data.command("pull")
    def pull_cmd(out: Path = typer.Option(..., help="bundle directory"),
                 suite: Optional[str] = typer.Option(None, help="suite name or YAML"),
                 benchmarks: Optional[str] = typer.Option(None, help="comma-separated benchmark names"),
                 from_: Optional[Path] = typer.Option(None, "--from",
                                                      help="copy from a local data directory instead of the hub")):
        """Fetch each benchmark's data (hub at the pinned revision, or --from DIR) into BUNDLE with checksums."""
        from harness import bundle, config as cfg

        try:
            if bool(suite) == bool(benchmarks):
                raise ConfigError("give --suite or --benchmarks")
            names = ([b.strip() for b in benchmarks.split(",") if b.strip()] if benchmarks
                     else [e.name for e in cfg.load_suite(suite).benchmarks])
            manifest = bundle.pull(names, out, from_, suite=suite)
        except HarnessError as e:
            _fail(e)
        for name in names:
            e = manifest["benchmarks"][name]
            warning = f"  warning: {e['warning']}" if e.get("warning") else ""
            typer.echo(f"{name}: {len(e['files'])} file(s), rows {e.get('rows', '?')}, revision "
                       f"{e.get('revision') or 'unpinned'}{warning}")
        typer.echo(f"bundle: {out} (sha256 {bundle.digest(manifest)[:16]}…); run with --data-dir {out}")

    @data.command("verify")
    def verify_cmd(bundle_dir: Path = typer.Argument(..., help="bundle directory")):
        """Recompute every file's checksum against MANIFEST.json."""
        from harness import bundle

        problems, notes = bundle.verify(bundle_dir)
        for n in notes:
            typer.echo(f"note: {n}")
        for p in problems:
            typer.echo(f"problem: {p}", err=True)
        if problems:
            raise typer.Exit(1)
        manifest = json.loads((bundle_dir / bundle.MANIFEST).read_text(encoding="utf-8"))
        typer.echo(f"ok: {sum(len(e['files']) for e in manifest['benchmarks'].values())} files of "
                   f"{len(manifest['benchmarks'])} benchmarks match (sha256 {bundle.digest(manifest)[:16]}…)")

    return data


def register(app: typer.Typer) -> None:
    app.add_typer(jobs_app(), name="jobs")
    app.add_typer(data_app(), name="data")

    @app.command("merge")
    def merge_cmd(dirs: List[Path] = typer.Argument(..., help="run directories (shards, array tasks)"),
                  out: Path = typer.Option(..., help="the merged run directory"),
                  force: bool = typer.Option(False, help="replace an existing merged run directory"),
                  allow_partial: bool = typer.Option(False, help="merge even if sample shards are missing")):
        """Merge shards of one run into one run directory (manifest, generations, scores, summary.json)."""
        from harness.jobs.merge import merge_runs
        from harness.report.terminal import scorecard

        try:
            summary = merge_runs(dirs, out, force=force, allow_partial=allow_partial)
        except HarnessError as e:
            _fail(e)
        scorecard(summary)
        typer.echo(f"merged: {out}")

    @app.command("verify")
    def verify_cmd(
        run_dir: Path = typer.Argument(..., help="a finished run directory"),
        n: Optional[int] = typer.Option(None, help="items to re-run per benchmark (default 50)"),
        fraction: Optional[float] = typer.Option(None, help="share of each benchmark's items to re-run"),
        seed: int = typer.Option(0, help="seed of the random sample"),
        out: Optional[Path] = typer.Option(None, help="re-run directory (default: RUN_DIR.verify-s<seed>)"),
        benchmarks: Optional[str] = typer.Option(None, help="only these benchmarks (comma-separated)"),
        engine: Optional[str] = typer.Option(None, help="override the manifest's engine"),
        model: Optional[str] = typer.Option(None, help="override the manifest's model (id or path)"),
        base_url: Optional[str] = typer.Option(None, help="openai engine: endpoint, e.g. http://host:8000/v1"),
        served_model_name: Optional[str] = typer.Option(None, help="the model name the server answers to"),
        api_key_env: Optional[str] = typer.Option(None, help="variable holding the API key (never stored)"),
        vllm_executable: Optional[str] = typer.Option(None, help="command that starts vLLM (default: vllm)"),
        vllm_arg: List[str] = typer.Option([], help="extra `vllm serve` argument (repeatable)"),
        tp: Optional[int] = typer.Option(None, "--tp", help="vllm: tensor parallel size"),
        pp: Optional[int] = typer.Option(None, "--pp", help="vllm: pipeline parallel size"),
        dp: Optional[int] = typer.Option(None, "--dp", help="vllm: data parallel size"),
        responses: Optional[Path] = typer.Option(None, help="replay engine: responses file"),
        concurrency: Optional[int] = typer.Option(None, help="requests in flight"),
        data_dir: List[Path] = typer.Option([], help="local data root (repeatable)"),
        data: List[str] = typer.Option([], help="NAME=PATH (repeatable)"),
        judge: Optional[str] = typer.Option(None, help="judge engine: ENGINE:MODEL[@URL] or a model spec YAML"),
        user_sim: Optional[str] = typer.Option(None, help="user-simulator engine"),
        min_agreement: float = typer.Option(1.0, help="greedy decoding: share of items that must agree"),
        json_out: bool = typer.Option(False, "--json", help="print the report as JSON"),
    ):
        """Re-run a random sample of a finished run's items and check agreement and manifest consistency.
        Exit 0: reproduced; 1: not reproduced or manifest errors; 2: could not run."""
        from harness import config as cfg
        from harness.launch import split_args
        from harness.verify import Mismatch, verify_run

        try:
            pairs = {}
            for p in data:
                if "=" not in p:
                    raise ConfigError(f"--data takes NAME=PATH, got {p!r}")
                k, v = p.split("=", 1)
                pairs[k] = Path(v)
            overrides = {"engine": engine, "model": model, "base_url": base_url,
                         "served_model_name": served_model_name, "api_key_env": api_key_env,
                         "executable": split_args([vllm_executable], "--vllm-executable") if vllm_executable
                         else None,
                         "extra_args": split_args(vllm_arg) or None,
                         "tensor_parallel_size": tp, "pipeline_parallel_size": pp, "data_parallel_size": dp,
                         "responses": str(responses) if responses else None, "concurrency": concurrency}
            roles = {r: cfg.parse_engine_spec(v, r) for r, v in (("judge", judge), ("user_sim", user_sim)) if v}
            report = verify_run(run_dir, out, n, fraction, seed, overrides, data_dir, pairs, roles,
                                [b.strip() for b in benchmarks.split(",")] if benchmarks else None, min_agreement)
        except HarnessError as e:
            _fail(e)
        if json_out:
            typer.echo(json.dumps(report, indent=2, ensure_ascii=False))
        else:
            for name, r in report["benchmarks"].items():
                typer.echo(f"{name}: {'PASS' if r['pass'] else 'FAIL'}  agreement {r['agreement']:.1%} "
                           f"({r['agree']}/{r['n']}), score {r['old_score']} -> {r['new_score']}; {r['reason']}")
            for m in report["mismatches"]:
                typer.echo(str(Mismatch(**m)))
            typer.echo(f"{'REPRODUCED' if report['pass'] else 'NOT REPRODUCED'}; report: "
                       f"{report['rerun_dir']}/verify.json")
        if not report["pass"]:
            raise typer.Exit(1)
