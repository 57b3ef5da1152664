"""Runs inside the sandbox (stdlib only; the launcher passes this file's text to `python -I [-S] -c`).

The host is the sandbox's trusted side: it never executes a line of the program. It reads one job (JSON) from
stdin, compiles the code, and runs the program in children it forks, one to check that the code loads (call mode)
and one per test. Only the host holds the event channel (the original stdout, moved to a private descriptor); a
child gets exactly three descriptors, fd 0/1/2, memfds made for it alone, and closes everything else before the
code starts. The host builds each test's event itself, from the kernel's exit status and resource usage of its own
child and from what that child left in its memfds, and writes JSON lines on the channel:
  {"ev": "ready", "load_s": s} | {"ev": "compile_error", "error": "..."}, then per test {"ev": "start", "i": i} and
  {"ev": "done", "i": i, "status": "...", "stdout": "...", "value": ..., "error": "...", "cpu_s": ...}, then
  {"ev": "end"}.
The harness accepts exactly that sequence (one start and one done per test, in order, then end); anything else
fails the program. It also judges every output itself: nothing in the sandbox sees an expected output.

Job: {"mode": "stdio" | "call", "code", "preamble", "fn_name", "tests": [text], "cpu_s", "startup_s",
"output_bytes", "sys_path", "isolation"}; a test is the stdin text (stdio) or the arguments as JSON, one per line
(call). The preamble is the harness's own code (upstream's import line): it runs here, once, and each child starts
from its namespace.
stdio: a child runs the code as `__main__` with the test on stdin (a real file descriptor) and stdout captured.
call: a child loads the code (after the preamble), finds `Solution().<fn_name>` (or the module-level function) and
exits: a failure there is a compile error. Then each test's child loads the code afresh, calls the function with
the test's arguments and leaves the JSON-encoded return value as its report. Each test's CPU and wall limits are
`cpu_s` plus the time loading took, so module-level work is not charged to the test (upstream loads once).
Report: the child's last act is to replace the contents of its fd 2 with one JSON object, {"value": ...} or
{"exc", "errno", "error", "stderr"}. The program can write there too: that is the same as returning a value or
raising, and a malformed report fails the test.
Before the code runs, a child adds a seccomp filter of its own (`child_filter`, from the harness): no memfds and
no System V shared memory, whose pages would escape the address-space limit. Exited orphans are reaped after each
test (with namespaces the host is PID 1 and inherits them).
Status: ok | runtime_error | timeout (CPU limit) | memory (MemoryError) | output_limit | process_limit.
The harness owns all judging and every wall-clock limit.
"""

import builtins
import errno
import gc
import json
import os
import resource
import signal
import sys
import time

os.closerange(3, 1 << 16)  # nothing inherited but stdin (the job), stdout (the channel) and stderr
CHANNEL = os.dup(1)
_devnull = os.open("/dev/null", os.O_RDWR)
os.dup2(_devnull, 1)
os.dup2(_devnull, 2)  # the launcher's stderr carries setup failures only: nothing may fake one
HOST_FDS = (CHANNEL, _devnull)
TAIL = 2000


def emit(event):
    data = (json.dumps(event, ensure_ascii=False) + "\n").encode("utf-8", "surrogatepass")
    view = memoryview(data)
    while view:
        view = view[os.write(CHANNEL, view):]


def describe(exc):
    try:
        text = f"{type(exc).__name__}: {exc}"
    except BaseException:  # noqa: BLE001 - an exception whose str() fails
        text = type(exc).__name__
    return text if len(text) <= 2000 else text[:1000] + " ... " + text[-1000:]


def encode(value, top=True):
    """JSON-able form of a return value that keeps the distinctions Python `==` makes: a tuple equals a list only at
    the top level (upstream converts that one), sets and other objects equal nothing JSON can express."""
    if isinstance(value, tuple):
        items = [encode(v, False) for v in value]
        return items if top else {"__tuple__": items}
    if isinstance(value, list):
        return [encode(v, False) for v in value]
    if isinstance(value, dict):
        if all(isinstance(k, str) for k in value):
            return {k: encode(v, False) for k, v in value.items()}
        return {"__dict__": [[encode(k, False), encode(v, False)] for k, v in value.items()]}
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return {"__object__": type(value).__name__}


def memfd(name, data=b""):
    fd = os.memfd_create(name, 0)
    if data:
        os.write(fd, data)
        os.lseek(fd, 0, os.SEEK_SET)
    return fd


def read_fd(fd, limit):
    os.lseek(fd, 0, os.SEEK_SET)
    chunks, left = [], limit
    while left > 0:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def set_digits(n):
    if hasattr(sys, "set_int_max_str_digits"):
        sys.set_int_max_str_digits(n)


def report(data):
    """Replace fd 2's contents with the report (the program's stderr tail goes inside it)."""
    try:
        size = os.fstat(2).st_size
        tail = os.pread(2, TAIL, max(0, size - TAIL)).decode("utf-8", "replace") if size else ""
    except OSError:
        tail = ""
    if tail and "stderr" not in data:
        data["stderr"] = tail
    payload = json.dumps(data).encode("utf-8", "surrogatepass")
    os.ftruncate(2, 0)
    os.lseek(2, 0, os.SEEK_SET)
    view = memoryview(payload)
    while view:
        view = view[os.write(2, view):]


def resolve(job, space):
    name = job["fn_name"]
    if "class Solution" in job["code"]:  # upstream's test for LeetCode-style code
        fn = getattr(space["Solution"](), name, None)
    else:
        fn = space.get(name)
    if not callable(fn):
        raise AttributeError(f"the code defines no {name!r}")
    return fn


def wait_for_threads():
    """As the interpreter does at exit: join the program's non-daemon threads (`Thread(target=main).start()`)."""
    threading = sys.modules.get("threading")
    if threading is not None:
        for t in threading.enumerate():
            if t is not threading.main_thread() and not t.daemon:
                t.join()


def child(job, what, test, fds, ctx, cpu_limit):
    """In the forked child: never returns. From here on the process is as untrusted as the code it runs: it holds
    fd 0/1/2 (its own memfds) and nothing else. Only this process reports: copies it forks exit silently."""
    code, me = 1, os.getpid()
    try:
        os.dup2(fds["stdin"], 0)
        os.dup2(fds["stdout"], 1)
        os.dup2(fds["stderr"], 2)
        os.closerange(3, ctx["max_fd"])  # the event channel, /dev/null, the memfds' other numbers: all gone
        if ctx.get("deny") is not None and ctx["deny"]() != 0:  # no new memfds or System V shared memory
            raise OSError("could not install the child's seccomp filter")
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_limit, cpu_limit + 1))
        cap = int(job["output_bytes"]) + 1
        resource.setrlimit(resource.RLIMIT_FSIZE, (cap, cap))
        opts = {"encoding": "utf-8", "errors": "surrogateescape", "closefd": False}
        sys.stdin = sys.__stdin__ = open(0, "r", **opts)
        sys.stdout = sys.__stdout__ = open(1, "w", **opts)
        sys.stderr = sys.__stderr__ = open(2, "w", buffering=1, **opts)
        args = [json.loads(line) for line in test.split("\n")] if what == "call" else None
        set_digits(ctx["digits"])
        sys.setrecursionlimit(ctx["recursion"])
        space = ctx["base"]  # this process's own copy (fork): the code may change it freely
        if what == "stdio":
            try:
                exec(ctx["compiled"], space)
            except SystemExit:  # upstream swallows exit() in stdin programs
                pass
        elif what == "load":
            exec(ctx["compiled"], space)
            resolve(job, space)
            os._exit(0)  # loaded: threads it started are not waited for
        else:
            exec(ctx["compiled"], space)
            value = resolve(job, space)(*args)
            set_digits(0)
            result = {"value": encode(value)}
        wait_for_threads()
        sys.stdout.flush()
        sys.stderr.flush()
        if os.getpid() != me:
            os._exit(0)
        if what == "call":
            report(result)
        code = 0
    except BaseException as e:  # noqa: BLE001 - every failure becomes a status
        if os.getpid() != me:
            os._exit(1)
        try:
            report({"exc": type(e).__name__, "errno": getattr(e, "errno", None), "error": describe(e)})
        except BaseException:  # noqa: BLE001
            pass
    os._exit(code)


def classify(exc):
    name, err = exc.get("exc"), exc.get("errno")
    if name == "MemoryError":
        return "memory"
    if err == errno.EFBIG:
        return "output_limit"
    if err == errno.EAGAIN and name in ("BlockingIOError", "OSError"):
        return "process_limit"
    if name == "RuntimeError" and "new thread" in str(exc.get("error", "")):
        return "process_limit"
    return "runtime_error"


def spawn(job, what, test, ctx, cpu_limit):
    """Fork a child for `what` (load | stdio | call), wait for it, and return what the host saw: exit status, CPU
    seconds, stdout bytes (up to the cap + 1), the parsed report (a dict, or None) and the raw tail of fd 2."""
    cap = int(job["output_bytes"])
    stdin = test.encode("utf-8", "surrogatepass") if what == "stdio" else b""
    fds = {"stdin": memfd("stdin", stdin), "stdout": memfd("stdout"), "stderr": memfd("stderr")}
    try:
        pid = os.fork()
        if pid == 0:
            child(job, what, test, fds, ctx, cpu_limit)
        _, status, usage = os.wait4(pid, 0)
        reap()
        out = read_fd(fds["stdout"], cap + 1)
        raw = read_fd(fds["stderr"], 4 * (cap + 1))
    finally:
        for fd in fds.values():
            os.close(fd)
    try:
        rep = json.loads(raw) if raw else None
    except ValueError:
        rep = None
    if not isinstance(rep, dict):
        rep = None
    tail = raw[-TAIL:].decode("utf-8", "replace")
    return status, round(usage.ru_utime + usage.ru_stime, 4), out, rep, tail


def reap():
    """Collect exited orphans of the program (with namespaces this process is PID 1 and inherits them): a zombie
    would count against the process limit of later tests."""
    while True:
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                return
        except ChildProcessError:
            return


def child_filter(hexdata):
    """A function that installs the child's extra seccomp filter (built by the harness, seccomp.build_child)."""
    if not hexdata:
        return None
    import ctypes

    class Fprog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    program = bytes.fromhex(hexdata)
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = Fprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    prctl = ctypes.CDLL(None, use_errno=True).prctl
    pr_set_seccomp, seccomp_mode_filter = 22, 2
    return lambda: prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0) if buf else -1


def killed(status, cpu, cpu_limit):
    sig = os.WTERMSIG(status)
    over_cpu = sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu >= cpu_limit)
    try:
        name = signal.Signals(sig).name
    except ValueError:
        name = f"signal {sig}"
    return ("timeout" if over_cpu else "runtime_error"), f"killed by {name}"


def text(value):
    return value if isinstance(value, str) else None


def run_test(job, i, test, ctx, cpu_limit):
    cap = int(job["output_bytes"])
    status, cpu, out, rep, tail = spawn(job, job["mode"], test, ctx, cpu_limit)
    event = {"ev": "done", "i": i, "cpu_s": cpu}
    stderr_tail = (text(rep.get("stderr")) if rep is not None else tail) or ""
    if os.WIFSIGNALED(status):
        event["status"], event["error"] = killed(status, cpu, cpu_limit)
    elif len(out) > cap:
        event["status"], event["error"] = "output_limit", f"more than {cap} bytes of output"
    elif os.WEXITSTATUS(status) != 0:
        failure = rep is not None and "exc" in rep
        event["status"] = classify(rep) if failure else "runtime_error"
        error = text(rep.get("error")) if failure else None
        event["error"] = error or stderr_tail or f"exit status {os.WEXITSTATUS(status)}"
    elif job["mode"] == "stdio":  # exit status 0: whatever it left on fd 2 is its own stderr
        event["status"], event["stdout"] = "ok", out.decode("utf-8", "replace")
        stderr_tail = ""
    elif rep is not None and "value" in rep and set(rep) <= {"value", "stderr"}:
        event["status"], event["value"] = "ok", rep["value"]
    else:
        event["status"], event["error"] = "runtime_error", "no return value reported"
    if event["status"] != "ok" and stderr_tail:
        event["stderr"] = stderr_tail[-TAIL:]
    return event


def prepare(job):
    """The preamble's namespace and the compiled code (raises: a compile error); the host's own limits are
    restored after the preamble, and the children get the preamble's."""
    base = {"__name__": "__main__", "__builtins__": builtins}
    recursion = sys.getrecursionlimit()
    if job.get("preamble"):
        exec(compile(job["preamble"], "<preamble>", "exec"), base)
    ctx = {"base": base, "recursion": sys.getrecursionlimit(),
           "digits": sys.get_int_max_str_digits() if hasattr(sys, "get_int_max_str_digits") else 0}
    sys.setrecursionlimit(recursion)
    set_digits(0)
    ctx["compiled"] = compile(job["code"], "<solution>", "exec")
    gc.freeze()  # children never walk (and so never copy) the host's objects when they collect garbage
    return ctx


def not_dumpable():
    """Without namespaces the program sees /proc: make this process non-dumpable so that its children (same uid)
    cannot open /proc/<host>/fd/* (the event channel) or read its memory."""
    import ctypes
    pr_set_dumpable = 4
    if ctypes.CDLL(None, use_errno=True).prctl(pr_set_dumpable, 0, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_DUMPABLE) failed")


def main():
    set_digits(0)  # test data may hold huge integers
    job = json.loads(sys.stdin.buffer.read())
    os.dup2(_devnull, 0)
    if job.get("isolation") != "namespaces":
        not_dumpable()
    sys.path.extend(p for p in job.get("sys_path", []) if p not in sys.path)  # site-packages when run with -S
    for name in ("exit", "quit"):  # what `site` would have added
        if not hasattr(builtins, name):
            setattr(builtins, name, sys.exit)
    sys.stdout = open(1, "w", closefd=False)  # /dev/null
    try:
        ctx = prepare(job)
    except BaseException as e:  # noqa: BLE001
        emit({"ev": "compile_error", "error": describe(e)})
        return
    ctx["deny"] = child_filter(job.get("child_filter"))
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    ctx["max_fd"] = max(hard if hard != resource.RLIM_INFINITY else 0, 1024, max(HOST_FDS) + 16)
    cpu_s = float(job["cpu_s"])
    load_s = load_cpu = 0.0
    if job["mode"] == "call":
        t0 = time.monotonic()
        limit = int(cpu_s + float(job.get("startup_s", 0)) + 0.999)
        status, load_cpu, _, rep, tail = spawn(job, "load", "", ctx, max(1, limit))
        load_s = time.monotonic() - t0
        if os.WIFSIGNALED(status) or os.WEXITSTATUS(status) != 0:
            if os.WIFSIGNALED(status):
                error = killed(status, load_cpu, limit)[1]
            else:
                error = (text(rep.get("error")) if rep is not None else None) or tail or "exit status " + str(
                    os.WEXITSTATUS(status))
            emit({"ev": "compile_error", "error": str(error)})
            return
    emit({"ev": "ready", "load_s": round(load_s, 4)})
    cpu_limit = max(1, int(cpu_s + load_cpu + 0.999))
    for i, test in enumerate(job["tests"]):
        emit({"ev": "start", "i": i})
        emit(run_test(job, i, test, ctx, cpu_limit))
    emit({"ev": "end"})


try:
    main()
except BaseException as exc:  # noqa: BLE001 - the harness records it as a crashed execution
    emit({"ev": "host_error", "error": describe(exc)})
