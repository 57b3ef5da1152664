"""Running untrusted generated code: one sandbox per program, isolated by Linux namespaces, rlimits and seccomp.

`box.py` is the harness side (deadlines, the result protocol, judging, cleanup), `launcher.py` builds the sandbox,
`seccomp.py` the system-call filter, `host.py` runs inside it and forks one child per test, the only processes that
execute the code. What is and is not isolated: docs/sandbox.md.
"""

from harness.sandbox.box import Execution, Limits, Outcome, Program, Sandbox, SandboxError, default_workers

__all__ = ["Execution", "Limits", "Outcome", "Program", "Sandbox", "SandboxError", "default_workers"]
