"""Starts and owns a `vllm serve` process; requests go through the OpenAI-compatible client.

The launcher is the same for any executable that takes vLLM's `serve MODEL --host H --port P …` arguments, which is
how it is tested without a GPU (tests point `executable` at `python -m harness.serve`).
"""

from __future__ import annotations

import atexit
import json
import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

from harness.config import ModelSpec
from harness.engine.batch import concurrency_fields
from harness.engine.client import wait_healthy
from harness.engine.openai import OpenAIEngine
from harness.errors import EngineError

LOG_TAIL_LINES = 40


def reserve_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def serve_command(spec: ModelSpec, port: int, images_per_prompt: int = 0) -> list[str]:
    """The `vllm serve` command line for a model spec. `images_per_prompt`: the most images one prompt of the run
    carries (0: text only); vLLM then gets `--limit-mm-per-prompt '{"image": N}'` (vLLM 0.33.0 takes the JSON form,
    `MultiModalConfig.limit_per_prompt`; an explicit --vllm-arg --limit-mm-per-prompt wins)."""
    cmd = [*spec.executable, "serve", spec.model, "--host", spec.host, "--port", str(port)]
    if spec.served_model_name:
        cmd += ["--served-model-name", spec.served_model_name]
    if spec.tensor_parallel_size != 1:
        cmd += ["--tensor-parallel-size", str(spec.tensor_parallel_size)]
    if spec.data_parallel_size != 1:
        cmd += ["--data-parallel-size", str(spec.data_parallel_size)]
    if spec.pipeline_parallel_size != 1:
        cmd += ["--pipeline-parallel-size", str(spec.pipeline_parallel_size)]
    if spec.max_model_len:
        cmd += ["--max-model-len", str(spec.max_model_len)]
    if spec.reasoning_parser:
        cmd += ["--reasoning-parser", spec.reasoning_parser]
    if spec.tool_call_parser:
        cmd += ["--enable-auto-tool-choice", "--tool-call-parser", spec.tool_call_parser]
    if spec.gpu_memory_utilization is not None and flag_value(spec.extra_args, "--gpu-memory-utilization") is None:
        cmd += ["--gpu-memory-utilization", str(spec.gpu_memory_utilization)]
    if images_per_prompt and flag_value(spec.extra_args, "--limit-mm-per-prompt") is None:
        cmd += ["--limit-mm-per-prompt", json.dumps({"image": images_per_prompt})]
    return cmd + list(spec.extra_args)


def flag_value(args: list[str], flag: str) -> str | None:
    """The value of `flag` among command-line arguments (`--flag V` or `--flag=V`; the last one wins, as argparse)."""
    value = None
    for i, a in enumerate(args):
        if a == flag and i + 1 < len(args):
            value = args[i + 1]
        elif a.startswith(flag + "="):
            value = a.split("=", 1)[1]
    return value


def cuda_visible_devices(gpus: list[int], visible: str | None = None) -> str:
    """CUDA_VISIBLE_DEVICES for a server on `gpus`, indices into the devices the harness itself sees: positions in
    its own CUDA_VISIBLE_DEVICES when that is set (a scheduler's allocation, e.g. SLURM's), else device numbers."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES") if visible is None else visible
    ids = [v.strip() for v in visible.split(",") if v.strip()] if visible else None
    if ids is None:
        return ",".join(str(g) for g in gpus)
    bad = [g for g in gpus if not 0 <= g < len(ids)]
    if bad:
        raise EngineError(f"GPU index {bad[0]} is not among the {len(ids)} devices this process sees "
                          f"(CUDA_VISIBLE_DEVICES={visible})")
    return ",".join(ids[g] for g in gpus)


def server_env(spec: ModelSpec) -> dict[str, str] | None:
    """The server's environment: the harness's, with CUDA_VISIBLE_DEVICES narrowed to the spec's GPUs."""
    if spec.gpus is None:
        return None
    return {**os.environ, "CUDA_VISIBLE_DEVICES": cuda_visible_devices(spec.gpus)}


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(errors="replace")
    except FileNotFoundError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


# Runs beside the server in a session of its own; its stdin is a pipe whose only writer is the harness. When the
# harness dies for any reason (kill -9 included) the pipe closes and the watchdog kills the server's process group.
_WATCHDOG = """
import os, signal, sys, time
pgid = int(sys.argv[1])
try:
    while os.read(0, 1):
        pass
except OSError:
    pass
for sig in (signal.SIGTERM, signal.SIGKILL):
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        break
    if sig == signal.SIGTERM:
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            try:
                os.killpg(pgid, 0)
            except ProcessLookupError:
                sys.exit(0)
            time.sleep(0.2)
"""


def _cmdline(pid: int) -> list[str] | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return [a.decode(errors="replace") for a in raw.split(b"\0") if a]


def reap_stale(pid_path: Path) -> str | None:
    """Kill a server left running by an earlier harness process for this run directory (recorded in `pid_path`)
    whose owner is gone, checked against its command line so that a reused pid is never touched; returns a note
    when one was found."""
    import json

    try:
        rec = json.loads(pid_path.read_text())
    except (OSError, ValueError):
        return None
    pid, cmd, owner = int(rec.get("pid", 0)), rec.get("cmd") or [], int(rec.get("owner", 0))
    if owner > 0 and Path(f"/proc/{owner}").exists():
        return None  # its harness process is alive and owns it (another engine of the same run, or a test)

    def same() -> bool:  # an interpreter may stand before the executable (`python /path/vllm serve ...`)
        now = _cmdline(pid)
        return bool(now) and len(cmd) > 1 and now[-(len(cmd) - 1):] == cmd[1:]

    if pid <= 0 or not same():
        return None
    try:
        os.killpg(pid, signal.SIGTERM)
        for _ in range(75):
            time.sleep(0.2)
            if not same():
                break
        else:
            os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    return f"stopped a server left running by an earlier, killed harness process (pid {pid}: {' '.join(cmd)})"


class ServerProcess:
    """A server subprocess in its own process group, killed with its whole tree on exit or signal, and by a watchdog
    when the harness itself is killed (SIGKILL cannot be caught). Its pid is recorded beside its log so that a later
    harness process can stop it if both the harness and the watchdog were killed."""

    def __init__(self, cmd: list[str], log_path: Path, env: dict[str, str] | None = None):
        self.cmd = cmd
        self.log_path = log_path
        self.env = env
        self.proc: subprocess.Popen | None = None
        self._log = None
        self._old_handlers: dict[int, Any] = {}
        self.pid_path = log_path.with_suffix(".pid")
        self._watchdog: subprocess.Popen | None = None
        self._lifeline: int | None = None
        self.notes: list[str] = []

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        note = reap_stale(self.pid_path)
        if note:
            self.notes.append(note)
            import sys

            print(f"note: {note}", file=sys.stderr)
        self._log = open(self.log_path, "ab")
        self._log.write(f"\n=== {time.strftime('%Y-%m-%d %H:%M:%S')} $ {' '.join(self.cmd)}\n".encode())
        self._log.flush()
        try:
            self.proc = subprocess.Popen(
                self.cmd,
                stdout=self._log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # own process group: we can kill the whole tree (Ray workers included)
                env=self.env,
            )
        except FileNotFoundError:
            self._log.close()
            raise EngineError(
                f"cannot start the server: {self.cmd[0]!r} not found. Install vLLM (`pip install 'harness[vllm]'`) "
                "or point --vllm-executable at it"
            ) from None
        self._log.write(f"=== server pid {self.proc.pid} (process group leader)\n".encode())
        self._log.flush()
        import json
        import sys

        self.pid_path.write_text(json.dumps({"pid": self.proc.pid, "cmd": self.cmd, "owner": os.getpid()}))
        read_end, self._lifeline = os.pipe()
        os.set_inheritable(self._lifeline, False)
        self._watchdog = subprocess.Popen([sys.executable, "-c", _WATCHDOG, str(self.proc.pid)], stdin=read_end,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                          start_new_session=True)
        os.close(read_end)
        atexit.register(self.stop)
        for sig in (signal.SIGTERM, signal.SIGHUP):
            try:
                self._old_handlers[sig] = signal.signal(sig, self._on_signal)
            except ValueError:  # not in the main thread
                pass

    def _on_signal(self, signum, frame):
        self.stop()
        old = self._old_handlers.get(signum)
        if callable(old):
            old(signum, frame)
        raise SystemExit(128 + signum)

    def check(self) -> None:
        """Raise with the log tail if the process has exited."""
        if self.proc is not None and self.proc.poll() is not None:
            raise EngineError(
                f"the server process exited with code {self.proc.returncode}; "
                f"log: {self.log_path}\n--- last lines ---\n{log_tail(self.log_path)}"
            )

    def stop(self, grace: float = 15.0) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            try:
                os.killpg(proc.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                pass
        if proc is not None:
            try:  # whatever of the group is left (children that ignored SIGTERM)
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        if self._log and not self._log.closed:
            self._log.close()
        if self._lifeline is not None:  # the watchdog sees EOF and finds the group gone
            os.close(self._lifeline)
            self._lifeline = None
        if self._watchdog is not None:
            try:
                self._watchdog.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._watchdog.kill()
            self._watchdog = None
        try:
            self.pid_path.unlink()
        except FileNotFoundError:
            pass
        for sig, old in self._old_handlers.items():
            try:
                signal.signal(sig, old)
            except (ValueError, TypeError):
                pass
        self._old_handlers.clear()


class VLLMEngine(OpenAIEngine):
    """The OpenAI engine, pointed at a `vllm serve` process it starts, watches and stops."""

    name = "vllm"

    def __init__(self, spec: ModelSpec, log_name: str = "server.log"):
        self.spec = spec
        self.log_name = log_name
        self.server: ServerProcess | None = None
        self.client = None
        self.port: int | None = None
        self.served_models: list[str] = []
        self.max_context: int | None = None
        self.images_per_prompt = 0  # set by the runner before start when prompts carry images

    @property
    def base_url(self) -> str:
        return f"http://{self.spec.host}:{self.port}/v1"

    async def start(self, run_dir: Path) -> None:
        s = self.spec
        self.port = s.port or reserve_port(s.host)
        self.server = ServerProcess(serve_command(s, self.port, self.images_per_prompt), run_dir / self.log_name,
                                    env=server_env(s))
        self.server.start()
        try:
            self.served_models = await wait_healthy(self.base_url, s.startup_timeout, self.server.check)
        except EngineError as e:
            self.server.stop(grace=5)
            raise EngineError(f"{e}\nserver log: {self.server.log_path}\n{log_tail(self.server.log_path)}") from None
        await self.connect(self.base_url, alive=self.server.check)

    async def close(self) -> None:
        await super().close()
        if self.server:
            self.server.stop()

    def describe(self) -> dict[str, Any]:
        s = self.spec
        return {
            "engine": self.name,
            "model": s.served_model_name or s.model,
            "command": serve_command(s, self.port or 0, self.images_per_prompt),
            "cuda_visible_devices": cuda_visible_devices(s.gpus) if s.gpus is not None else None,
            "served_models": self.served_models,
            **concurrency_fields(s),
            "request_timeout": s.request_timeout,
            "max_retries": s.max_retries,
        }
