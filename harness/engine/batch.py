"""How many requests the client keeps in flight: enough to fill the server's batch, no more than it can use.

A vLLM server runs at most `--max-num-seqs` sequences per data-parallel replica; requests beyond that wait in its
queue, where a streamed request gets no byte (and its idle timeout runs) until a sequence finishes. So when the
harness starts vLLM itself it knows the batch: in flight = max_num_seqs × data-parallel size, plus a small margin so
that a finished sequence's slot is refilled at once instead of after a round trip. An explicit `--concurrency`
(or `concurrency:` in a model spec) always wins; a server the harness does not start (openai engine) keeps the old
default of 256. Each role (judge, user simulator) derives its own limit from its own spec, so a judge sharing the
node never waits behind the model's requests.

vLLM's default max_num_seqs (vLLM 0.33.0, the version the `vllm` extra pins: vllm/engine/arg_utils.py,
`EngineArgs.get_batch_defaults` and `_set_default_max_num_seqs_and_batched_tokens_args`, API-server context): 1024 on
GPUs with at least 160 GiB, 1024 on GPUs with at least 70 GiB other than the A100 and the GB10 (H100, H200), 256
otherwise; doubled with `--performance-mode throughput`. vLLM reads the memory and name of its first visible GPU;
the harness reads the same GPU with nvidia-smi and, when it cannot, assumes the smaller default (256).
"""

from __future__ import annotations

import functools
import shutil
import subprocess

from harness.config import ModelSpec

DEFAULT_CONCURRENCY = 256  # a server the harness does not start: its batch size is unknown
VLLM_VERSION = "0.33.0"  # whose defaults VLLM_DEFAULT_MAX_NUM_SEQS follows
GIB = 1024  # nvidia-smi reports MiB


def margin(batch: int) -> int:
    """Requests beyond the batch kept ready so that no slot idles between a completion and the next request."""
    return max(4, -(-batch // 16))


def vllm_default_max_num_seqs(gpu: tuple[str, float] | None) -> tuple[int, str]:
    """vLLM 0.33.0's default max_num_seqs for `vllm serve` on `gpu` ((name, memory in MiB), None: unknown)."""
    if gpu is None:
        return 256, f"vLLM {VLLM_VERSION}'s default on GPUs under 70 GiB (the server's GPU could not be read)"
    name, mib = gpu
    gib = mib / GIB
    if gib >= 160 or (gib >= 70 and "a100" not in name.lower() and "gb10" not in name.lower()):
        return 1024, f"vLLM {VLLM_VERSION}'s default on {name} ({gib:.0f} GiB)"
    return 256, f"vLLM {VLLM_VERSION}'s default on {name} ({gib:.0f} GiB)"


@functools.lru_cache(maxsize=None)
def gpu_info(device: str) -> tuple[str, float] | None:
    """(name, memory MiB) of one GPU (an index or UUID as CUDA_VISIBLE_DEVICES names it) from nvidia-smi."""
    if not shutil.which("nvidia-smi"):
        return None
    try:
        out = subprocess.run(["nvidia-smi", "-i", device, "--query-gpu=name,memory.total",
                              "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return None
    line = out.stdout.strip().splitlines()[0] if out.returncode == 0 and out.stdout.strip() else ""
    name, _, mib = line.rpartition(",")
    try:
        return name.strip(), float(mib)
    except ValueError:
        return None


def server_gpu(spec: ModelSpec) -> tuple[str, float] | None:
    """The first GPU the spec's vLLM server sees (the one vLLM sizes its defaults by)."""
    from harness.engine.vllm import cuda_visible_devices

    try:
        first = cuda_visible_devices(list(spec.gpus) if spec.gpus else [0]).split(",")[0]
    except Exception:  # noqa: BLE001 - an index outside the visible devices: the launcher reports it
        return None
    return gpu_info(first) if first else None


def _int_flag(spec: ModelSpec, *flags: str) -> int | None:
    from harness.engine.vllm import flag_value

    for flag in flags:
        v = flag_value(list(spec.extra_args), flag)
        if v is not None:
            try:
                return int(v)
            except ValueError:
                return None  # vLLM refuses it at start, with its own message
    return None


def concurrency_for(spec: ModelSpec, gpu: tuple[str, float] | None | bool = False) -> tuple[int, str]:
    """(requests in flight, why) for a model spec. `gpu`: the server's (name, MiB) or None for unknown; by default
    read with nvidia-smi when the harness starts vLLM and no --max-num-seqs is given."""
    if spec.concurrency is not None:
        return spec.concurrency, "given (--concurrency or the model spec's `concurrency`)"
    if spec.engine != "vllm":
        return DEFAULT_CONCURRENCY, (f"default {DEFAULT_CONCURRENCY}: the harness does not start this server, so "
                                     "its batch size is unknown (set --concurrency to its max_num_seqs × replicas)")
    seqs = _int_flag(spec, "--max-num-seqs")
    if seqs is not None:
        why = f"--max-num-seqs {seqs}"
    else:
        seqs, why = vllm_default_max_num_seqs(server_gpu(spec) if gpu is False else gpu)
        if _flag(spec, "--performance-mode") == "throughput":
            seqs, why = 2 * seqs, f"{why}, doubled by --performance-mode throughput"
        why = f"max_num_seqs {seqs}: {why}"
    dp = _int_flag(spec, "--data-parallel-size", "-dp") or spec.data_parallel_size
    batch = seqs * dp
    extra = margin(batch)
    return batch + extra, (f"{why} × data-parallel size {dp} = {batch} sequences in the server's batches, + {extra} "
                           "so that a finished sequence's slot is refilled at once")


def concurrency_fields(spec: ModelSpec) -> dict[str, object]:
    """For an engine's `describe()` (the manifest's engine arguments): the limit and why it was chosen."""
    n, why = concurrency_for(spec)
    return {"concurrency": n, "concurrency_from": why}


def _flag(spec: ModelSpec, flag: str) -> str | None:
    from harness.engine.vllm import flag_value

    return flag_value(list(spec.extra_args), flag)
