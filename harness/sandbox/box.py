"""The harness side of the sandbox: start one sandbox per program, feed it the tests, enforce the wall clock, judge
each test as it finishes, and kill everything when done. See docs/sandbox.md for what is isolated and what is not.

    box = Sandbox(Limits(timeout_s=6))
    run = box.run(Program("stdio", code, tests=["1 2\\n"]), accept=lambda i, out: out.stdout.strip() == "3")
    run.stop, [o.status for o in run.outcomes]

Each `run` gets: a fresh temporary directory, its own process group and session, and a launcher (launcher.py) that
builds the namespaces, limits and seccomp filter before the host (host.py) starts. The host never runs the code:
children it forks do, holding no descriptor but their own stdin/stdout/stderr, and `_Watch` accepts exactly one
result per test, in order, judging each one here. Runs execute on a thread pool sized to the
cores (`workers`); as root each worker slot has its own unprivileged uid, so the process limit is per slot.
"""

from __future__ import annotations

import asyncio
import errno
import fcntl
import itertools
import json
import marshal
import os
import queue
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any, Callable, Literal

from harness.errors import EngineError
from harness.sandbox import seccomp

HERE = Path(__file__).resolve().parent
LAUNCHER = HERE / "launcher.py"
HOST = HERE / "host.py"
SETUP_FAILED = 125
RO_PATHS = ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32", "/etc/ld.so.cache"]
ISOLATIONS = ("namespaces", "rlimits")


def _int(text: str) -> int | Decimal:
    """JSON integers beyond Python's default int-from-text digit limit stay exact, as Decimal (== compares them
    with ints and each other as numbers)."""
    return int(text) if len(text) <= 4000 else Decimal(text)


JSON = json.JSONDecoder(parse_int=_int)


class SandboxError(EngineError):
    """The sandbox cannot be set up on this machine: nothing can be executed safely, so the run stops."""


@dataclass(frozen=True)
class Limits:
    timeout_s: float = 6.0  # wall clock per test, and its CPU-time limit (upstream LiveCodeBench: 6 s)
    memory_mb: int = 4096  # address space per process
    max_procs: int = 64  # processes and threads of the sandbox's uid
    output_bytes: int = 8 << 20  # stdout kept per test; more fails the test with output_limit
    tmp_mb: int = 64  # size of the sandbox's /tmp (namespaces) and the largest file it may write
    max_files: int = 256  # open file descriptors
    startup_s: float = 10.0  # wall clock for starting the sandbox and loading the code, before the first test


@dataclass
class Program:
    mode: Literal["stdio", "call"]  # stdin -> stdout program, or a function called with arguments
    code: str
    tests: list[str]  # stdio: the stdin text of each test; call: its arguments as JSON, one per line
    fn_name: str | None = None  # call mode: Solution().<fn_name> or a module-level function
    preamble: str = ""  # the harness's own code (e.g. upstream's import line): runs once in the host, and each child
    # starts from its namespace


@dataclass
class Outcome:
    status: str  # ok | runtime_error | timeout | memory | output_limit | process_limit
    stdout: str | None = None  # stdio mode
    value: Any = None  # call mode: the return value as JSON (integers over 4,000 digits as Decimal)
    error: str | None = None
    cpu_s: float | None = None
    wall_s: float | None = None
    passed: bool | None = None  # status ok and accepted by the judge (`accept`)


@dataclass
class Execution:
    outcomes: list[Outcome]  # the tests that ran, in order, up to the first one `accept` rejected
    stop: str  # completed | rejected | compile_error | timeout | crashed | violation (see _Watch)
    error: str | None = None
    isolation: str = ""
    wall_s: float = 0.0


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def _site_dirs() -> list[str]:
    paths = sysconfig.get_paths(vars={"base": sys.base_prefix, "platbase": sys.base_exec_prefix})
    return list(dict.fromkeys(os.path.realpath(paths[k]) for k in ("purelib", "platlib")))


def base_python() -> str:
    """The interpreter programs run with: the one under the harness's venv, if any (it has no harness packages)."""
    exe = getattr(sys, "_base_executable", None) or sys.executable
    return os.path.realpath(exe)


UID_FIRST, UID_BLOCK, UID_BLOCKS = 1_000_000, 64, 100_000  # slot uids: 1,000,000 .. 7,400,000, in blocks of 64
UID_LOCK_DIRS = ("/run", "/tmp")
F_OFD_SETLK = getattr(fcntl, "F_OFD_SETLK", 37)


def _uid_hint() -> int:
    """The block a harness process tries first (spread by pid: the first try is usually free)."""
    return os.getpid() % UID_BLOCKS


def _lock_range(fd: int, start: int, count: int) -> bool:
    """An open-file-description write lock on bytes [start, start + count) of the lock file: held until the
    descriptor closes (in this process or, since it is per open file, in another Sandbox of this process)."""
    flock = struct.pack("hhqqi4x", fcntl.F_WRLCK, os.SEEK_SET, start, count, 0)
    try:
        fcntl.fcntl(fd, F_OFD_SETLK, flock)
        return True
    except OSError as e:
        if e.errno in (errno.EACCES, errno.EAGAIN):
            return False
        raise


def allocate_uids(count: int, uid_base: int | None = None) -> tuple[int, Any]:
    """Reserve `count` slot uids that no other Sandbox on this machine holds (in any process that shares the lock
    file, /run/harness-sandbox-uids.lock, else /tmp's): returns the first uid and the open lock file, which holds
    the reservation until it is closed. An explicit `uid_base` is taken as is or refused."""
    for d in UID_LOCK_DIRS:
        if os.path.isdir(d) and os.access(d, os.W_OK):
            path = os.path.join(d, "harness-sandbox-uids.lock")
            break
    else:
        raise SandboxError("no writable /run or /tmp for the sandbox uid lock file")
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC, 0o600)
    lock = os.fdopen(fd, "rb", buffering=0)
    try:
        if uid_base is not None:
            if not _lock_range(fd, uid_base, count):
                raise SandboxError(f"sandbox uids {uid_base}..{uid_base + count - 1} are in use by another "
                                   "harness process on this machine; choose another uid_base")
            return uid_base, lock
        blocks = -(-count // UID_BLOCK)
        choices = UID_BLOCKS - blocks + 1
        hint = _uid_hint() % choices
        for k in itertools.chain(range(hint, choices), range(hint)):
            start = UID_FIRST + k * UID_BLOCK
            if _lock_range(fd, start, blocks * UID_BLOCK):
                return start, lock
        raise SandboxError(f"no free range of {count} sandbox uids (every block is held by another harness process)")
    except BaseException:
        lock.close()
        raise


class _MemoryCgroup:
    """A memory cgroup per execution, where this machine lets the harness make one: cgroup v2 with the memory
    controller enabled for the harness's own cgroup's children, or cgroup v1's memory hierarchy, writable. Its limit
    counts every page the sandbox holds: processes, tmpfs, memfds, shared memory."""

    def __init__(self) -> None:
        self.parent: str | None = None
        self.version = 0
        self._seq = itertools.count()
        try:
            self._find()
        except OSError:
            self.parent = None

    def _find(self) -> None:
        mounts: dict[str, str] = {}  # "2" or a v1 controller -> mount point
        with open("/proc/self/mountinfo") as f:
            for line in f:
                fields = line.split()
                sep = fields.index("-")
                fstype, options = fields[sep + 1], fields[sep + 3].split(",")
                if fstype == "cgroup2":
                    mounts.setdefault("2", fields[4])
                elif fstype == "cgroup" and "memory" in options:
                    mounts.setdefault("memory", fields[4])
        with open("/proc/self/cgroup") as f:
            entries = [line.rstrip("\n").split(":", 2) for line in f]
        for _, controllers, path in entries:
            if "memory" in controllers.split(",") and "memory" in mounts:
                d = mounts["memory"] + path
                if os.path.isfile(os.path.join(d, "memory.limit_in_bytes")) and os.access(d, os.W_OK):
                    self.parent, self.version = d, 1
                    return
        for _, controllers, path in entries:
            if controllers == "" and "2" in mounts:
                d = mounts["2"] + path
                with open(os.path.join(d, "cgroup.subtree_control")) as f:
                    enabled = f.read().split()
                if "memory" in enabled and os.access(d, os.W_OK):
                    self.parent, self.version = d, 2
                    return

    def create(self, limit_bytes: int) -> str | None:
        """A new cgroup limited to `limit_bytes` (no swap): its cgroup.procs path, or None (no cgroups here)."""
        if self.parent is None:
            return None
        d = os.path.join(self.parent, f"harness-sandbox-{os.getpid()}-{next(self._seq)}")
        try:
            os.mkdir(d)
            if self.version == 1:
                _write(os.path.join(d, "memory.limit_in_bytes"), str(limit_bytes))
                if os.path.exists(os.path.join(d, "memory.memsw.limit_in_bytes")):
                    _write(os.path.join(d, "memory.memsw.limit_in_bytes"), str(limit_bytes))
            else:
                _write(os.path.join(d, "memory.max"), str(limit_bytes))
                if os.path.exists(os.path.join(d, "memory.swap.max")):
                    _write(os.path.join(d, "memory.swap.max"), "0")
        except OSError:
            self.remove(os.path.join(d, "cgroup.procs"))
            return None
        return os.path.join(d, "cgroup.procs")

    @staticmethod
    def remove(procs: str | None) -> None:
        if procs is None:
            return
        d = os.path.dirname(procs)
        for _ in range(50):  # the last processes may still be leaving it
            try:
                os.rmdir(d)
                return
            except FileNotFoundError:
                return
            except OSError:
                time.sleep(0.01)


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


HOST_MB = 64  # the host's own memory in the sandbox's cgroup (interpreter, upstream's imports), beyond memory_mb
CHILD_FILTER = (seccomp.build_child() or b"").hex()
MEMORY_CGROUP: _MemoryCgroup | None = None
_cgroup_lock = threading.Lock()


def memory_cgroup() -> _MemoryCgroup:
    global MEMORY_CGROUP
    with _cgroup_lock:
        if MEMORY_CGROUP is None:
            MEMORY_CGROUP = _MemoryCgroup()
        return MEMORY_CGROUP


class Sandbox:
    def __init__(self, limits: Limits | None = None, workers: int | None = None,
                 isolation: str = "namespaces", python: str | None = None, uid_base: int | None = None):
        if isolation not in ISOLATIONS:
            raise SandboxError(f"sandbox isolation {isolation!r} is not one of {', '.join(ISOLATIONS)}")
        self.limits = limits or Limits()
        self.workers = workers or default_workers()
        self.isolation = isolation
        self.python = python or base_python()
        self.prefix = os.path.realpath(sys.base_prefix) if python is None else str(Path(self.python).parent.parent)
        # the base interpreter starts without `site` (no .pth code, ~20 ms less per sandbox) and gets its
        # site-packages on sys.path directly; another interpreter starts normally
        self.site_dirs = _site_dirs() if python is None else None
        # as root every slot runs as its own uid, from a range no other harness process on this machine holds
        # (a lock on the uids' byte range of a lock file, held for this Sandbox's lifetime)
        self._uid_lock = None
        if os.getuid() == 0:
            self.uid_base, self._uid_lock = allocate_uids(self.workers, uid_base)
        else:
            self.uid_base = uid_base if uid_base is not None else UID_FIRST + _uid_hint() * UID_BLOCK
        # one memory cgroup per execution where the machine has one: memory_mb then bounds the whole sandbox
        self.cgroup = memory_cgroup()
        self._slots: queue.Queue[int] = queue.Queue()
        for s in range(self.workers):
            self._slots.put(s)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="sandbox")
        self._checked = False
        self._check_lock = threading.Lock()

    # ------------------------------------------------------------------ public

    def run(self, program: Program, accept: Callable[[int, Outcome], bool] | None = None) -> Execution:
        """Run a program on its tests (blocking). `accept(i, outcome)` judges each finished test; the first False
        (or any test that did not finish with status ok) stops the run."""
        self.check()
        return self._in_slot(program, accept)

    async def arun(self, program: Program, accept: Callable[[int, Outcome], bool] | None = None) -> Execution:
        """`run` on the sandbox's worker pool, off the event loop."""
        return await asyncio.wrap_future(self._pool.submit(self.run, program, accept))

    def check(self) -> None:
        """Run a trivial program once; raise SandboxError with the launcher's message when it cannot."""
        if self._checked:
            return
        with self._check_lock:
            if self._checked:
                return
            ex = self._in_slot(Program("stdio", "print('ok')", [""]), None)
            if ex.stop != "completed" or not ex.outcomes or (ex.outcomes[0].stdout or "").strip() != "ok":
                detail = ex.error or (ex.outcomes[0].error if ex.outcomes else None) or ex.stop
                raise SandboxError(
                    f"the code sandbox does not work on this machine ({detail}). Isolation {self.isolation!r} "
                    "needs root or unprivileged user namespaces (sysctl user.max_user_namespaces > 0, and "
                    "kernel.unprivileged_userns_clone=1 or kernel.apparmor_restrict_unprivileged_userns=0 where "
                    "those exist); see docs/sandbox.md. The weaker 'rlimits' isolation runs without namespaces.")
            self._checked = True

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        if self._uid_lock is not None:
            self._uid_lock.close()  # the uids are free for other harness processes
            self._uid_lock = None

    # ------------------------------------------------------------------ one execution

    def _in_slot(self, program: Program, accept) -> Execution:
        slot = self._slots.get()
        try:
            return self._execute(program, accept, slot)
        finally:
            self._slots.put(slot)

    def _config(self, root: str, slot: int, tests: int) -> dict[str, Any]:
        lim = self.limits
        uid = self.uid_base + slot if os.getuid() == 0 else None
        home = "/tmp" if self.isolation == "namespaces" else root
        ro = list(RO_PATHS)
        if not any(self.prefix == p or self.prefix.startswith(p + "/") for p in RO_PATHS):
            ro.append(self.prefix)
        return {
            "isolation": self.isolation,
            "root": root,
            "uid": uid,
            "gid": uid,
            "python": self.python,
            "no_site": self.site_dirs is not None,
            "host": str(HOST),
            "ro_paths": ro,
            "cgroup_procs": None,
            "env": {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "HOME": home,
                    "TMPDIR": home, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"},
            "limits": {
                # CPU for the whole sandbox: every test's own limit plus loading, as upstream's global timeout
                "cpu_s": int(lim.startup_s + (lim.timeout_s + 1) * tests + 5),
                "memory_mb": lim.memory_mb,
                "max_procs": lim.max_procs,
                "file_bytes": max(lim.output_bytes + 1, lim.tmp_mb << 20),
                "max_files": lim.max_files,
                "tmp_mb": lim.tmp_mb,
            },
        }

    def _execute(self, program: Program, accept, slot: int) -> Execution:
        lim = self.limits
        t0 = time.monotonic()
        root = tempfile.mkdtemp(prefix="harness-sandbox-")
        cgroup = None
        try:
            cfg = self._config(root, slot, len(program.tests))
            if cfg["uid"] is not None and self.isolation != "namespaces":
                os.chown(root, cfg["uid"], cfg["gid"])
            job = {"mode": program.mode, "code": program.code, "preamble": program.preamble,
                   "fn_name": program.fn_name, "tests": program.tests, "cpu_s": lim.timeout_s,
                   "startup_s": lim.startup_s, "output_bytes": lim.output_bytes,
                   "sys_path": self.site_dirs or [], "isolation": self.isolation, "child_filter": CHILD_FILTER}
            cgroup = cfg["cgroup_procs"] = self.cgroup.create((lim.memory_mb + HOST_MB) << 20)
            # the event channel and the launcher's stderr are socket pairs, not pipes: a pipe can be reopened
            # for writing through /proc/<harness>/fd/N by a process of the same uid (the rlimits mode as an
            # ordinary user), a socket cannot
            channel, channel_out = socket.socketpair()
            errors, errors_out = socket.socketpair()
            try:
                with tempfile.TemporaryFile() as jobfile:
                    jobfile.write(json.dumps(job, ensure_ascii=False).encode("utf-8", "surrogatepass"))
                    jobfile.seek(0)
                    proc = subprocess.Popen(
                        [sys.executable, "-I", "-S", str(LAUNCHER), marshal.dumps(cfg).hex()], stdin=jobfile,
                        stdout=channel_out.fileno(), stderr=errors_out.fileno(), env={}, cwd=root,
                        start_new_session=True, close_fds=True)
            finally:
                channel_out.close()
                errors_out.close()
            try:
                channel.shutdown(socket.SHUT_WR)
                errors.shutdown(socket.SHUT_WR)
                ex = _Watch(proc, program, accept, lim, channel, errors).run()
            finally:
                _kill_group(proc)
                channel.close()
                errors.close()
            ex.isolation = self.isolation
            ex.wall_s = round(time.monotonic() - t0, 4)
            return ex
        finally:
            _MemoryCgroup.remove(cgroup)
            shutil.rmtree(root, ignore_errors=True)


def _index(ev: dict) -> int | None:
    i = ev.get("i")
    return i if isinstance(i, int) and not isinstance(i, bool) else None


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGTERM first: the launcher then kills its PID namespace and returns once every process in it is gone; then
    SIGKILL to the whole process group for anything left (all of it without namespaces)."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    proc.wait()
    for f in (proc.stdout, proc.stderr):
        if f is not None:
            f.close()


STATUSES = ("ok", "runtime_error", "timeout", "memory", "output_limit", "process_limit")


class _Violation(Exception):
    """The event channel broke the protocol: the run fails, whatever the events claimed."""


class _Watch:
    """Reads the event channel with deadlines (loading; each test, from its start event; the whole run) and accepts
    exactly one sequence: `ready` (or `compile_error`), then for test i = 0, 1, ... in order one `start` and one
    `done` naming i, then `end` after the last test. A missing, extra, repeated, out-of-order, malformed or unknown
    event fails the run ("violation"): a pass is one output per test, each judged here by `accept`."""

    def __init__(self, proc: subprocess.Popen, program: Program, accept, lim: Limits, channel=None, errors=None):
        self.proc, self.program, self.accept, self.lim = proc, program, accept, lim
        self.channel = channel if channel is not None else proc.stdout  # file objects or sockets
        self.errors = errors if errors is not None else proc.stderr
        self.max_line = 6 * lim.output_bytes + (1 << 16)  # a done event: stdout JSON-escaped, plus fields
        self.outcomes: list[Outcome] = []
        self.stderr = bytearray()

    def run(self) -> Execution:
        lim, n = self.lim, len(self.program.tests)
        start = time.monotonic()
        total = start + lim.startup_s + (lim.timeout_s + 1) * n + 5
        phase = start + lim.startup_s + lim.timeout_s  # loading: upstream gives compiling the test timeout too
        self.credit = 0.0  # each test's wall clock also gets the time the code took to load (host.py)
        self.loaded = False
        self.current: tuple[int, float] | None = None
        buf = bytearray()
        sel = selectors.DefaultSelector()
        sel.register(self.channel, selectors.EVENT_READ)
        sel.register(self.errors, selectors.EVENT_READ)
        open_fds = 2
        while True:
            now = time.monotonic()
            if now >= min(phase, total):
                return self._timed_out(self.current, now)
            if open_fds == 0:
                return self._crashed(self.current)
            for key, _ in sel.select(min(phase, total) - now):
                chunk = os.read(key.fd, 1 << 20)
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_fds -= 1
                elif key.fileobj is self.errors:
                    self.stderr += chunk
                    del self.stderr[:-65536]
                else:
                    buf += chunk
            while (nl := buf.find(b"\n")) >= 0:
                line, buf = bytes(buf[:nl]), buf[nl + 1:]
                try:
                    ev = JSON.decode(line.decode("utf-8", "surrogatepass"))
                except ValueError:
                    return self._violation("garbled event channel")
                try:
                    result = self._event(ev, n, time.monotonic())
                except _Violation as e:
                    return self._violation(str(e))
                if isinstance(result, Execution):
                    if result.stop == "completed" and buf:
                        return self._violation("data after the end event")
                    return result
                if result is not None:
                    phase = result
            if len(buf) > self.max_line:
                return self._violation("event larger than the output limit")

    def _event(self, ev: Any, n: int, now: float) -> Execution | float | None:
        """One event: an Execution when the run ends, a new phase deadline, or None."""
        lim = self.lim
        kind = ev.get("ev") if isinstance(ev, dict) else None
        if kind == "host_error":
            return Execution(self.outcomes, "crashed", str(ev.get("error") or "host error"))
        if not self.loaded:
            if kind == "compile_error":
                return Execution(self.outcomes, "compile_error", str(ev.get("error")))
            if kind != "ready":
                raise _Violation(f"{kind!r} before ready")
            load_s = ev.get("load_s", 0.0)
            if isinstance(load_s, bool) or not isinstance(load_s, (int, float, Decimal)):
                raise _Violation("ready without a load time")
            self.loaded, self.credit = True, min(max(float(load_s), 0.0), lim.startup_s + lim.timeout_s)
            return now + lim.startup_s
        expected = len(self.outcomes)
        if kind == "start":
            if self.current is not None or _index(ev) != expected or expected >= n:
                raise _Violation(f"start of test {_index(ev)} where test {expected} was due")
            self.current = (expected, now)
            return now + lim.timeout_s + self.credit
        if kind == "done":
            if self.current is None or _index(ev) != self.current[0]:
                raise _Violation(f"result for test {_index(ev)} that is not running")
            out = self._outcome(ev, round(now - self.current[1], 4))
            self.outcomes.append(out)
            self.current = None
            out.passed = out.status == "ok" and (self.accept is None or bool(self.accept(expected, out)))
            if not out.passed:
                return Execution(self.outcomes, "rejected", out.error)
            return now + lim.startup_s
        if kind == "end":
            if self.current is not None or expected != n:
                raise _Violation(f"end after {expected} of {n} tests")
            return Execution(self.outcomes, "completed")
        raise _Violation(f"unknown event {kind!r}")

    def _outcome(self, ev: dict, wall_s: float) -> Outcome:
        status, stdout, error, cpu = ev.get("status"), ev.get("stdout"), ev.get("error"), ev.get("cpu_s")
        if status not in STATUSES:
            raise _Violation(f"unknown status {status!r}")
        if not (stdout is None or isinstance(stdout, str)) or not (error is None or isinstance(error, str)):
            raise _Violation("malformed result")
        if isinstance(cpu, bool) or not (cpu is None or isinstance(cpu, (int, float, Decimal))):
            raise _Violation("malformed result")
        if status == "ok" and (stdout is None if self.program.mode == "stdio" else "value" not in ev):
            raise _Violation("a result without its output")
        return Outcome(status, stdout, ev.get("value"), error, None if cpu is None else float(cpu), wall_s)

    def _violation(self, what: str) -> Execution:
        return Execution(self.outcomes, "violation", f"sandbox protocol violation: {what}")

    def _timed_out(self, current, now) -> Execution:
        if current is not None:
            self.outcomes.append(Outcome("timeout", error=f"over {self.lim.timeout_s:g} s wall clock",
                                         wall_s=round(now - current[1], 4), passed=False))
            return Execution(self.outcomes, "timeout", f"test {current[0] + 1} over {self.lim.timeout_s:g} s")
        return Execution(self.outcomes, "timeout", "no progress within the time limit (loading the code)")

    def _crashed(self, current) -> Execution:
        code = self.proc.wait()
        text = self.stderr.decode("utf-8", "replace").strip()
        if code == SETUP_FAILED and "sandbox setup failed" in text:
            raise SandboxError(text.splitlines()[-1])
        where = f" during test {current[0] + 1}" if current else ""
        return Execution(self.outcomes, "crashed", f"sandbox exited with status {code}{where}"
                         + (f": {text[-500:]}" if text else ""))
