"""Requests in flight follow the server's batch when the harness starts vLLM (issue 15, item 4): max_num_seqs (given, or
vLLM 0.33.0's default for the server's GPU) × data-parallel size plus a margin; an explicit --concurrency wins; the
choice and its reason are in the manifest's engine arguments."""

from __future__ import annotations

import json
import os
import stat
import sys

import pytest
from conftest import SERVE
from typer.testing import CliRunner

from harness.cli import app
from harness.config import ModelSpec
from harness.engine import batch
from harness.engine.batch import concurrency_for, margin

H200 = ("NVIDIA H200", 143771.0)
A100 = ("NVIDIA A100-SXM4-80GB", 81920.0)


def vllm(**kw) -> ModelSpec:
    return ModelSpec(engine="vllm", model="m", **kw)


def test_explicit_max_num_seqs_times_data_parallel_size_plus_margin():
    n, why = concurrency_for(vllm(extra_args=["--max-num-seqs", "64"]), gpu=H200)
    assert n == 64 + margin(64) == 68 and "--max-num-seqs 64" in why
    n, why = concurrency_for(vllm(data_parallel_size=4, extra_args=["--max-num-seqs=128"]), gpu=H200)
    assert n == 512 + 32 and "data-parallel size 4" in why
    # a data-parallel size given as a raw vLLM argument counts too (the last one wins, as vLLM's parser)
    n, _ = concurrency_for(vllm(extra_args=["--max-num-seqs", "32", "--data-parallel-size", "2"]), gpu=None)
    assert n == 64 + 4


def test_vllm_default_follows_the_gpu_as_vllm_0_33_does():
    # vllm/engine/arg_utils.py (0.33.0) EngineArgs.get_batch_defaults, API-server context
    assert concurrency_for(vllm(), gpu=H200)[0] == 1024 + 64
    assert concurrency_for(vllm(data_parallel_size=2), gpu=H200)[0] == 2048 + 128
    assert concurrency_for(vllm(), gpu=A100)[0] == 256 + 16  # the A100 keeps the small default despite 80 GiB
    assert concurrency_for(vllm(), gpu=("NVIDIA L40S", 46068.0))[0] == 256 + 16
    assert concurrency_for(vllm(), gpu=("NVIDIA B200", 183359.0))[0] == 1024 + 64
    n, why = concurrency_for(vllm(), gpu=None)
    assert n == 256 + 16 and "could not be read" in why
    n, why = concurrency_for(vllm(extra_args=["--performance-mode", "throughput"]), gpu=H200)
    assert n == 2048 + 128 and "throughput" in why


def test_explicit_concurrency_wins_and_other_servers_keep_256():
    n, why = concurrency_for(vllm(concurrency=12, extra_args=["--max-num-seqs", "64"]), gpu=H200)
    assert (n, why.startswith("given")) == (12, True)
    n, why = concurrency_for(ModelSpec(engine="openai", model="m", base_url="http://127.0.0.1:9/v1"))
    assert n == 256 and "does not start this server" in why
    # a judge is its own spec: its limit follows its own server, whatever the model's is
    judge = vllm(extra_args=["--max-num-seqs", "16"])
    assert concurrency_for(judge, gpu=H200)[0] == 20


def test_the_gpu_is_read_with_nvidia_smi_from_the_servers_first_device(tmp_path, monkeypatch):
    """A real nvidia-smi subprocess (a script standing in for it on PATH) answering the query the harness makes."""
    log = tmp_path / "args"
    smi = tmp_path / "bin" / "nvidia-smi"
    smi.parent.mkdir()
    smi.write_text(f"#!{sys.executable}\nimport sys\nopen({str(log)!r}, 'w').write(' '.join(sys.argv[1:]))\n"
                   "print('NVIDIA H200, 143771')\n")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{smi.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,5,6,7")
    batch.gpu_info.cache_clear()
    try:
        n, why = concurrency_for(vllm(gpus=[2, 3], tensor_parallel_size=2))
        assert n == 1024 + 64 and "NVIDIA H200 (140 GiB)" in why
        assert log.read_text().split()[:2] == ["-i", "6"]  # the server's first GPU as the harness sees it
    finally:
        batch.gpu_info.cache_clear()


def test_a_run_records_the_derived_concurrency_in_the_manifest(tmp_path):
    """`harness run` starting a vLLM-command server (the stand-in) with --max-num-seqs 3 and DP 2."""
    out = tmp_path / "o"
    r = CliRunner().invoke(app, [
        "run", "--benchmarks", "mmlu_pro", "--limit", "6", "--engine", "vllm", "--model", "m", "--vllm-executable",
        " ".join(SERVE), "--vllm-arg", "--backend scripted", "--vllm-arg", "--max-num-seqs 3", "--dp", "2",
        "--max-tokens", "8", "--no-progress", "--out", str(out)])
    assert r.exit_code in (0, 3), r.output
    engine = json.loads((out / "manifest.json").read_text())["engine"]
    assert engine["concurrency"] == 3 * 2 + 4
    assert "--max-num-seqs 3" in engine["concurrency_from"] and "data-parallel size 2" in engine["concurrency_from"]
    assert "--max-num-seqs" in engine["command"] and "--data-parallel-size" in engine["command"]
    # --concurrency given: it wins, and the manifest says so
    out2 = tmp_path / "o2"
    r = CliRunner().invoke(app, [
        "run", "--benchmarks", "mmlu_pro", "--limit", "2", "--engine", "vllm", "--model", "m", "--vllm-executable",
        " ".join(SERVE), "--vllm-arg", "--backend scripted", "--vllm-arg", "--max-num-seqs 3", "--concurrency", "5",
        "--max-tokens", "8", "--no-progress", "--out", str(out2)])
    assert r.exit_code in (0, 3), r.output
    engine = json.loads((out2 / "manifest.json").read_text())["engine"]
    assert engine["concurrency"] == 5 and engine["concurrency_from"].startswith("given")


_VLLM_DEFAULTS = """
import json, sys
import vllm.engine.arg_utils as au
from vllm.usage.usage_lib import UsageContext
class Platform:  # vLLM's platform object as get_batch_defaults reads it, for one GPU
    def __init__(self, mib, name): self.mib, self.name = mib, name
    def get_device_total_memory(self): return int(self.mib * (1 << 20))
    def get_device_name(self): return self.name
    def is_device_capability(self, cap): return False
    def is_tpu(self): return False
    def is_cpu(self): return False
out = []
for name, mib in json.loads(sys.argv[1]):
    au.current_platform = Platform(mib, name)
    out.append(au.EngineArgs.get_batch_defaults(1)[1][UsageContext.OPENAI_API_SERVER])
print(json.dumps(out))
"""


def test_default_table_is_vllms_own():
    """vLLM's own get_batch_defaults decides (run where vLLM is importable: scripts/vllm-contract.sh)."""
    import subprocess

    from test_vllm_contract import vllm_python

    py = vllm_python()
    if py is None:
        pytest.skip("vLLM is not importable (scripts/vllm-contract.sh builds an environment with it)")
    gpus = [H200, A100, ("NVIDIA H100 80GB HBM3", 81559.0), ("NVIDIA L40S", 46068.0), ("NVIDIA B200", 183359.0),
            ("Tesla V100-SXM2-32GB", 32768.0)]
    p = subprocess.run([py, "-c", _VLLM_DEFAULTS, json.dumps(gpus)], capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-2000:]
    assert json.loads(p.stdout.strip().splitlines()[-1]) == [batch.vllm_default_max_num_seqs(g)[0] for g in gpus]
