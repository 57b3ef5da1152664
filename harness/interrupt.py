"""Interrupts of a run: the first SIGINT (Ctrl-C) or SIGTERM stops it within seconds and says what was saved and the
command that resumes it; a second one exits at once."""

from __future__ import annotations

import asyncio
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Coroutine, TypeVar

from harness.errors import Interrupted
from harness.records import Key
from harness.store import run_items

T = TypeVar("T")


def interruptible(make_coro: Callable[[], Coroutine[Any, Any, T]], keys: list[Key], out: Path, argv: list[str]) -> T:
    """asyncio.run(make_coro()) such that the first SIGINT (Ctrl-C) or SIGTERM stops it within seconds: the run is
    cancelled, the answers in flight are abandoned (the engines' close() ends a local generation at its next token;
    they are not results), the partial summary is written, and Interrupted says what was saved and the command that
    resumes. A second signal exits at once, also while the first is still being handled (a model still loading in a
    thread is waited for otherwise): finished records are already on disk, each flushed when written. The handlers
    stay until asyncio.run has returned; outside the main thread nothing is installed."""
    if threading.current_thread() is not threading.main_thread():
        return asyncio.run(make_coro())
    got: list[signal.Signals] = []
    running: dict[str, Any] = {}

    async def main():
        loop = running["loop"] = asyncio.get_running_loop()
        running["task"] = asyncio.current_task()
        for s in old:  # through the loop while it runs: a signal wakes it at once, whichever thread received it
            loop.add_signal_handler(s, on_signal, s, None)
        try:
            return await make_coro()
        except asyncio.CancelledError:
            if not got:
                raise
            raise interrupted(got[0], keys, out, argv) from None
        finally:
            for s in old:
                loop.remove_signal_handler(s)
                signal.signal(s, on_signal)  # still ours while asyncio.run waits for threads

    def on_signal(signum, _frame) -> None:
        sig = signal.Signals(signum)
        got.append(sig)
        if len(got) > 1:
            print(f"{sig.name}, a second signal: exiting now; finished items are saved in {out}",
                  file=sys.stderr, flush=True)
            os._exit(128 + int(sig))
        print(f"\n{sig.name}: stopping; the answer in flight is abandoned (press Ctrl-C again to exit at once)",
              file=sys.stderr, flush=True)
        try:
            running["loop"].call_soon_threadsafe(running["task"].cancel)
        except (KeyError, RuntimeError):  # the loop has not started, or has finished: stop here
            raise KeyboardInterrupt from None

    old = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        return asyncio.run(main())
    except KeyboardInterrupt:
        if not got:
            raise
        raise interrupted(got[0], keys, out, argv) from None
    finally:
        for s, h in old.items():
            signal.signal(s, h)


def interrupted(sig: signal.Signals, keys: list[Key], out: Path, argv: list[str]) -> Interrupted:
    """The Interrupted error for a run stopped by `sig`: what is saved in the run directory, and the exact command
    that resumes it."""
    try:
        items = run_items(out, lean=True) if out.is_dir() else {}
    except Exception:  # noqa: BLE001 - the message must come even when the records cannot be read
        items = {}
    answered = sum(1 for k in keys if (it := items.get(k)) is not None and not it.get("error"))
    argv = list(argv)
    if argv and (Path(argv[0]).name == "harness" or Path(argv[0]).parts[-2:] in (("harness", "cli.py"),
                                                                                 ("harness", "__main__.py"))):
        argv[0] = "harness"  # the console script, however it was started
    if argv[1:2] == ["run"] and "--out" not in argv and not any(a.startswith("--out=") for a in argv):
        argv += ["--out", str(out)]
    summary = out / "summary.json"
    return Interrupted(
        f"interrupted ({sig.name}): {answered} of {len(keys)} items are answered and saved in {out}"
        + (f" (partial summary: {summary})" if summary.exists() else "")
        + "; the answers in flight were abandoned. Resume with:\n  " + shlex.join(argv),
        signal_name=sig.name, code=128 + int(sig))
