"""Sets up one sandbox and executes the in-sandbox host there (stdlib only; run as `python -I -S launcher.py CONFIG`,
CONFIG being the harness's settings as marshal data in hex: builtin, so the start costs no imports).

The harness starts this script in a new session with an empty environment, stdin = the job file, stdout = the event
channel, stderr = setup errors (both sockets). In order:
  0. memory cgroup (where the harness made one): the launcher joins it first, so every process of the sandbox,
     and every page it holds in memfds or tmpfs, is charged to it.
  1. namespaces (isolation "namespaces"): new mount, network, PID, IPC and UTS namespaces, plus a user namespace
     that maps the caller's uid onto itself when not root. The launcher then becomes a child subreaper and forks
     (in both modes): the child, in a process group of its own, becomes the sandbox (PID 1 of the new PID
     namespace); the parent stays outside, reaps every process of the sandbox that is orphaned (were the harness
     PID 1 of a container, it would otherwise inherit them as zombies that count against the slot uid's process
     limit), and passes the child's exit status on. On SIGTERM it kills the sandbox, reaps all of it, and exits.
  2. a new root (namespaces only): a read-only tmpfs holding read-only bind mounts of /usr, /bin, /lib*, /sbin and
     the interpreter's prefix, the device nodes null/zero/full/random/urandom, and a fresh size-limited tmpfs at
     /tmp (the working directory); then chroot. Nothing else of the host is visible: not the harness's files,
     results, home directories, /etc, /proc, /sys, /run or other sockets.
  3. credentials: as root, drop to the slot's own unprivileged uid/gid with no supplementary groups. (In a user
     namespace the mapped uid is the caller's, and execve drops the namespace's capabilities.)
  4. resource limits: CPU time, address space, processes, file size, open files, no core files.
  5. parent-death signal (SIGKILL): when the launcher dies, the sandbox dies with it, and with PID 1 the namespace.
  6. no_new_privs and the seccomp filter (seccomp.py), then execve of the interpreter running the host.
Failures before execve print `sandbox setup failed: ...` on stderr and exit 125.
"""

from __future__ import annotations

import ctypes
import marshal
import os
import resource
import signal
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import seccomp  # noqa: E402  (a sibling file; this script runs without the harness package)

CLONE_NEWNS, CLONE_NEWUTS, CLONE_NEWIPC = 0x00020000, 0x04000000, 0x08000000
CLONE_NEWUSER, CLONE_NEWPID, CLONE_NEWNET = 0x10000000, 0x20000000, 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 0x1, 0x2, 0x4, 0x8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 0x20, 0x1000, 0x4000, 0x40000
MS_NOATIME, MS_NODIRATIME, MS_RELATIME = 0x400, 0x800, 0x200000
ST_TO_MS = {1: MS_RDONLY, 2: MS_NOSUID, 4: MS_NODEV, 8: MS_NOEXEC, 1024: MS_NOATIME, 2048: MS_NODIRATIME,
            4096: MS_RELATIME}  # statvfs f_flag bits -> mount flags (kept on remount: the kernel locks them)
PR_SET_PDEATHSIG, PR_SET_CHILD_SUBREAPER = 1, 36
SETUP_FAILED = 125
DEVICES = ("null", "zero", "full", "random", "urandom")

libc = ctypes.CDLL(None, use_errno=True)


def _check(ret: int, what: str) -> None:
    if ret != 0:
        e = ctypes.get_errno()
        raise OSError(e, f"{what}: {os.strerror(e)}")


def mount(src: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    enc = lambda s: s.encode() if s is not None else None  # noqa: E731
    _check(libc.mount(enc(src), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)), f"mount {target}")


def _write(path: str, text: str) -> None:
    with open(path, "w") as f:
        f.write(text)


def enter_namespaces() -> None:
    uid, gid = os.getuid(), os.getgid()
    flags = CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS
    if uid != 0:
        flags |= CLONE_NEWUSER
    _check(libc.unshare(flags), "unshare")
    if uid != 0:
        _write("/proc/self/setgroups", "deny")
        _write("/proc/self/uid_map", f"{uid} {uid} 1")
        _write("/proc/self/gid_map", f"{gid} {gid} 1")


def _bind_ro(src: str, dst: str) -> None:
    mount(src, dst, None, MS_BIND | MS_REC)
    kept = 0
    for bit, flag in ST_TO_MS.items():
        if os.statvfs(src).f_flag & bit:
            kept |= flag
    mount(None, dst, None, MS_REMOUNT | MS_BIND | MS_RDONLY | MS_NOSUID | kept)


def build_root(root: str, ro_paths: list[str], tmp_mb: int) -> None:
    mount(None, "/", None, MS_REC | MS_PRIVATE)
    mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,mode=0755")
    for path in ro_paths:
        if not os.path.lexists(path):
            continue
        dst = root + path
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        if os.path.islink(path):
            os.symlink(os.readlink(path), dst)
        elif os.path.isdir(path):
            os.makedirs(dst, exist_ok=True)
            _bind_ro(path, dst)
        else:
            open(dst, "w").close()
            _bind_ro(path, dst)
    os.makedirs(root + "/dev", exist_ok=True)
    for name in DEVICES:
        if os.path.exists("/dev/" + name):
            open(f"{root}/dev/{name}", "w").close()
            mount("/dev/" + name, f"{root}/dev/{name}", None, MS_BIND)
    os.makedirs(root + "/tmp")
    mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_mb}m,mode=1777")
    mount(None, root, None, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV, "size=4m,mode=0755")
    os.chroot(root)
    os.chdir("/tmp")


def drop_privileges(uid: int | None, gid: int | None) -> None:
    if os.getuid() != 0 or uid is None:
        return
    os.setgroups([])
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def user_processes(uid: int) -> int:
    """Processes the uid already runs (RLIMIT_NPROC counts them too); 0 where /proc cannot tell."""
    try:
        return sum(1 for p in os.listdir("/proc") if p.isdigit() and os.stat("/proc/" + p).st_uid == uid)
    except OSError:
        return 0


def set_limits(lim: dict, nproc_base: int) -> None:
    mb = 1 << 20
    pairs = {
        resource.RLIMIT_CPU: int(lim["cpu_s"]),
        resource.RLIMIT_AS: int(lim["memory_mb"]) * mb,
        resource.RLIMIT_NPROC: nproc_base + int(lim["max_procs"]),
        resource.RLIMIT_FSIZE: int(lim["file_bytes"]),
        resource.RLIMIT_NOFILE: int(lim["max_files"]),
        resource.RLIMIT_CORE: 0,
        resource.RLIMIT_MSGQUEUE: 0,
    }
    for res, value in pairs.items():
        hard = resource.getrlimit(res)[1]
        value = value if hard == resource.RLIM_INFINITY else min(value, hard)
        resource.setrlimit(res, (value, value))


def join_cgroup(procs: str | None) -> None:
    if procs:
        _write(procs, f"{os.getpid()}\n")


def supervise(pid: int, namespaces: bool) -> None:
    """The launcher outside the sandbox (a child subreaper): wait for the sandbox's first process, reap every
    orphan of the sandbox that the kernel hands over, and once the first process has exited (or on SIGTERM from
    the harness) kill what is left and return only when nothing of the sandbox is left. Never returns."""

    def kill_sandbox(*_):
        try:  # with namespaces, killing PID 1 kills the namespace; without, the sandbox's own process group
            os.kill(pid, signal.SIGKILL) if namespaces else os.killpg(pid, signal.SIGKILL)
        except OSError:
            pass

    signal.signal(signal.SIGTERM, kill_sandbox)
    code = SETUP_FAILED
    while True:
        try:
            done, status = os.waitpid(-1, 0)
        except ChildProcessError:  # nothing of the sandbox is left
            break
        if done == pid:
            code = os.waitstatus_to_exitcode(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status)
            kill_sandbox()
    os._exit(code)


def main() -> None:
    cfg = marshal.loads(bytes.fromhex(sys.argv[1]))
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # not root: the limit is per real uid, so the user's own processes count (kernels before 5.14 count them
    # even inside a user namespace); as root the slot's uid runs nothing else
    nproc_base = user_processes(os.getuid()) if os.getuid() != 0 else 0
    with open(cfg["host"], encoding="utf-8") as f:
        host_source = f.read()
    join_cgroup(cfg.get("cgroup_procs"))
    namespaces = cfg["isolation"] == "namespaces"
    if namespaces:
        enter_namespaces()
    _check(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")
    pid = os.fork()
    if pid:  # outside the sandbox (and its PID namespace)
        try:
            os.setpgid(pid, pid)  # also done by the child: whichever runs first
        except OSError:
            pass
        supervise(pid, namespaces)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    # a process group of its own: the program may signal its own group (seccomp), which no longer holds the
    # launcher that reaps it
    try:
        os.setpgid(0, 0)
    except OSError:
        pass
    if namespaces:
        build_root(cfg["root"], cfg["ro_paths"], int(cfg["limits"]["tmp_mb"]))
    else:
        os.chdir(cfg["root"])
        # the host inherits the program's orphans (as PID 1 does with namespaces) and reaps them after each test,
        # so that the next test's process limit is not taken by them (kept across execve)
        _check(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), "prctl(PR_SET_CHILD_SUBREAPER)")
    drop_privileges(cfg.get("uid"), cfg.get("gid"))
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)  # credentials changed: set it again
    set_limits(cfg["limits"], nproc_base)
    if not seccomp.install(os.getpid()) and cfg.get("require_seccomp", True):
        raise OSError(0, f"no seccomp filter for architecture {seccomp.machine()}")
    python = cfg["python"]
    flags = ["-I", "-S"] if cfg.get("no_site") else ["-I"]
    os.execve(python, [python, *flags, "-c", host_source], cfg["env"])


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - any setup failure ends this sandbox with one clear line
        sys.stderr.write(f"sandbox setup failed: {type(e).__name__}: {e}\n")
        sys.stderr.flush()
        os._exit(SETUP_FAILED)
