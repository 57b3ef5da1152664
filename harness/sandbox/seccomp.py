"""A small seccomp-BPF filter for sandboxed programs, built by hand (stdlib only: ctypes and prctl).

Installed by the launcher right before it executes the sandboxed interpreter; it stays in force across `execve` and
is inherited by every process the program starts. It returns EPERM (the program sees an ordinary error, so the
sample fails with a readable reason) for:
  - `socket` of any family, and io_uring (which could issue socket operations past this filter): no network at all,
    even where no network namespace could be made;
  - signals (`kill`, `tkill`, `tgkill`, `rt_(tg)sigqueueinfo`) to anything but the filter's owner or its own
    process group (pid 0), and pidfd signalling: the harness and its other children cannot be signalled;
  - `ptrace`, `process_vm_readv/writev`: no reading other processes' memory;
  - `setsid`, `setpgid`: no leaving the process group the harness kills;
  - `unshare`, `setns`, `clone` with namespace flags, mounts, `chroot`, `pivot_root`, `bpf`, `perf_event_open`,
    key management and `userfaultfd`: kernel attack surface a test program never needs.
Each child that runs the program also gets `build_child()`'s filter: no `memfd_create`, `memfd_secret`, `shmget`,
`shmat` (memory held there escapes the address-space limit).
`clone3` returns ENOSYS (its flags sit in memory a filter cannot read), so the C library falls back to `clone`.
Only x86_64 and aarch64 are known; elsewhere `build()` returns None and the launcher says so.
"""

from __future__ import annotations

import ctypes
import errno
import os
import struct

# syscall numbers per architecture: x86_64 (arch/x86/entry/syscalls/syscall_64.tbl), aarch64 (asm-generic/unistd.h)
_NR = {
    "x86_64": dict(
        socket=41, ptrace=101, process_vm_readv=310, process_vm_writev=311, kill=62, tkill=200, tgkill=234,
        rt_sigqueueinfo=129, rt_tgsigqueueinfo=297, pidfd_open=434, pidfd_send_signal=424, pidfd_getfd=438,
        setsid=112, setpgid=109, unshare=272, setns=308, clone=56, clone3=435, mount=165, umount2=166,
        chroot=161, pivot_root=155, bpf=321, perf_event_open=298, keyctl=250, add_key=248, request_key=249,
        userfaultfd=323, io_uring_setup=425, io_uring_enter=426, io_uring_register=427, open_tree=428,
        move_mount=429, fsopen=430, fsconfig=431, fsmount=432, fspick=433, mount_setattr=442,
        memfd_create=319, memfd_secret=447, shmget=29, shmat=30,
    ),
    "aarch64": dict(
        socket=198, ptrace=117, process_vm_readv=270, process_vm_writev=271, kill=129, tkill=130, tgkill=131,
        rt_sigqueueinfo=138, rt_tgsigqueueinfo=240, pidfd_open=434, pidfd_send_signal=424, pidfd_getfd=438,
        setsid=157, setpgid=154, unshare=97, setns=268, clone=220, clone3=435, mount=40, umount2=39,
        chroot=51, pivot_root=41, bpf=280, perf_event_open=241, keyctl=219, add_key=217, request_key=218,
        userfaultfd=282, io_uring_setup=425, io_uring_enter=426, io_uring_register=427, open_tree=428,
        move_mount=429, fsopen=430, fsconfig=431, fsmount=432, fspick=433, mount_setattr=442,
        memfd_create=279, memfd_secret=447, shmget=194, shmat=196,
    ),
}
_AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}

DENIED = (
    "socket", "ptrace", "process_vm_readv", "process_vm_writev", "pidfd_open", "pidfd_send_signal", "pidfd_getfd",
    "setsid", "setpgid", "unshare", "setns", "mount", "umount2", "chroot", "pivot_root", "bpf", "perf_event_open",
    "keyctl", "add_key", "request_key", "userfaultfd", "io_uring_setup", "io_uring_enter", "io_uring_register",
    "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
)
# added by the host (host.py) in each child before the program's code runs, on top of the filter above: memory the
# program could hold outside its address space limit (memfds, System V shared memory). The host itself needs
# memfd_create for the children's stdin/stdout/stderr, so these cannot be in the sandbox-wide filter.
CHILD_DENIED = ("memfd_create", "memfd_secret", "shmget", "shmat")
SIGNALS = ("kill", "tkill", "tgkill", "rt_sigqueueinfo", "rt_tgsigqueueinfo")  # first argument: the target
_CLONE_NAMESPACES = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000 | 0x80
# CLONE_NEWNS, NEWCGROUP, NEWUTS, NEWIPC, NEWUSER, NEWPID, NEWNET, NEWTIME

# classic BPF opcodes and seccomp return values (linux/filter.h, linux/seccomp.h)
_LD_ABS, _JEQ, _JGE, _JSET, _RET = 0x20, 0x15, 0x35, 0x45, 0x06
_KILL_PROCESS, _ALLOW, _ERRNO = 0x80000000, 0x7FFF0000, 0x00050000
_OFF_NR, _OFF_ARCH, _OFF_ARG0 = 0, 4, 16  # struct seccomp_data; low 32 bits of args[0] (little-endian)


def _op(code: int, k: int, jt: int = 0, jf: int = 0) -> tuple[int, int, int, int]:
    return (code, jt, jf, k & 0xFFFFFFFF)


def machine() -> str:
    m = os.uname().machine.lower()
    return {"amd64": "x86_64", "arm64": "aarch64"}.get(m, m)


def build(owner_pid: int) -> bytes | None:
    """The filter program as packed `struct sock_filter` entries; None on an unknown architecture."""
    arch = machine()
    if arch not in _NR:
        return None
    nr = _NR[arch]
    eperm = _ERRNO | errno.EPERM
    prog = [
        _op(_LD_ABS, _OFF_ARCH),
        _op(_JEQ, _AUDIT_ARCH[arch], 1, 0),
        _op(_RET, _KILL_PROCESS),  # a foreign ABI would bypass every number below
        _op(_LD_ABS, _OFF_NR),
    ]
    if arch == "x86_64":  # the x32 ABI: same calls with bit 30 set
        prog += [_op(_JGE, 0x40000000, 0, 1), _op(_RET, eperm)]
    prog += [_op(_JEQ, nr["clone3"], 0, 1), _op(_RET, _ERRNO | errno.ENOSYS)]
    for name in DENIED:
        prog += [_op(_JEQ, nr[name], 0, 1), _op(_RET, eperm)]
    for name in SIGNALS:  # allowed only towards the owner itself or pid 0 (its own process group)
        prog += [
            _op(_JEQ, nr[name], 0, 5),
            _op(_LD_ABS, _OFF_ARG0),
            _op(_JEQ, owner_pid, 2, 0),
            _op(_JEQ, 0, 1, 0),
            _op(_RET, eperm),
            _op(_RET, _ALLOW),
        ]
    prog += [
        _op(_JEQ, nr["clone"], 0, 4),
        _op(_LD_ABS, _OFF_ARG0),
        _op(_JSET, _CLONE_NAMESPACES, 0, 1),
        _op(_RET, eperm),
        _op(_RET, _ALLOW),
        _op(_RET, _ALLOW),
    ]
    return b"".join(struct.pack("HBBI", *ins) for ins in prog)


def build_child() -> bytes | None:
    """The filter each child of the host adds before running the program (CHILD_DENIED -> EPERM); None on an
    unknown architecture."""
    arch = machine()
    if arch not in _NR:
        return None
    nr, eperm = _NR[arch], _ERRNO | errno.EPERM
    prog = [_op(_LD_ABS, _OFF_ARCH), _op(_JEQ, _AUDIT_ARCH[arch], 1, 0), _op(_RET, _KILL_PROCESS),
            _op(_LD_ABS, _OFF_NR)]
    for name in CHILD_DENIED:
        prog += [_op(_JEQ, nr[name], 0, 1), _op(_RET, eperm)]
    prog.append(_op(_RET, _ALLOW))
    return b"".join(struct.pack("HBBI", *ins) for ins in prog)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def install(owner_pid: int) -> bool:
    """Set no_new_privs and install the filter on the calling process; False on an unknown architecture."""
    program = build(owner_pid)
    if program is None:
        return False
    libc = ctypes.CDLL(None, use_errno=True)
    pr_set_no_new_privs, pr_set_seccomp, seccomp_mode_filter = 38, 22, 2
    if libc.prctl(pr_set_no_new_privs, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")
    buf = ctypes.create_string_buffer(program, len(program))
    fprog = _SockFprog(len(program) // 8, ctypes.cast(buf, ctypes.c_void_p))
    if libc.prctl(pr_set_seccomp, seccomp_mode_filter, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_SECCOMP) failed")
    return True
