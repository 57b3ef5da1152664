"""Progress while a run goes: a live bar on a terminal; in a batch job's log (not a terminal), plain lines every
`every` seconds on a timer (whether or not an item finished) and at the end, so SLURM/Kubernetes logs show how far
it got.

On a slow engine the item count says little (one answer can take half an hour on CPU), so the display is about
tokens: tokens per second (the engine's live count of tokens generated, answers in flight included, when it has one,
e.g. the hf engine; else the tokens of finished answers), the age of the oldest item in flight, and an ETA from the
tokens left: each unfinished item is expected to take its benchmark's mean answer length so far, or its full budget
(max_tokens) before any answer has finished, and then the ETA is an upper bound (shown as `ETA ≤`).
"""

from __future__ import annotations

import itertools
import sys
import threading
import time
from typing import Callable


def _eta(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


class Progress:
    def __init__(self, enabled: bool, todo: dict[str, int], every: float = 30.0, refresh: float = 1.0):
        self.todo = {k: v for k, v in todo.items() if v}
        self.done = dict.fromkeys(self.todo, 0)
        self.tokens = dict.fromkeys(self.todo, 0)  # completion tokens of finished items, per benchmark
        self.counted = dict.fromkeys(self.todo, 0)  # finished items whose token count is known
        self.budget: dict[str, int | None] = {}
        self.live: Callable[[], int] | None = None
        self.live0 = 0
        self.flight: dict[int, tuple[str, float]] = {}
        self._ids = itertools.count()
        self.t0 = self.last = time.monotonic()
        self.every = every
        self.bar = None
        self.lines = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._timer: threading.Thread | None = None
        if not enabled or not self.todo:
            return
        from rich.console import Console

        console = Console(stderr=True)
        if not console.is_terminal:
            self.lines = True
            self._start_timer(every)
            return
        from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
        from rich.progress import Progress as Bar

        self.bar = Bar(TextColumn("{task.description:<18}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                       TextColumn("{task.fields[info]}"), console=console)
        self.tasks = {n: self.bar.add_task(n, total=t, info="") for n, t in self.todo.items()}
        self.total_task = self.tasks[next(iter(self.todo))] if len(self.todo) == 1 else \
            self.bar.add_task("all", total=sum(self.todo.values()), info="")
        self.bar.start()
        self._start_timer(refresh)

    # ---- what the generation workers report

    def track(self, budgets: dict[str, int | None], live: Callable[[], int] | None = None) -> None:
        """Each benchmark's output budget (max_tokens) and the engine's live count of generated tokens, if any."""
        self.budget = dict(budgets)
        self.live = live
        if live is not None:
            self.live0 = live()

    def begin(self, name: str) -> int:
        """An item was sent; returns its handle for `end`."""
        i = next(self._ids)
        with self._lock:
            self.flight[i] = (name, time.monotonic())
        return i

    def end(self, handle: int) -> None:
        with self._lock:
            self.flight.pop(handle, None)

    def advance(self, name: str, tokens: int | None = None) -> None:
        """An item finished, with `tokens` completion tokens."""
        with self._lock:
            self.done[name] += 1
            if tokens is not None:
                self.tokens[name] += tokens
                self.counted[name] += 1
        if self.bar:
            self.bar.update(self.tasks[name], advance=1)
            if self.total_task != self.tasks[name]:
                self.bar.update(self.total_task, advance=1)
            self._refresh()

    # ---- figures

    def stats(self) -> dict:
        """Tokens so far, tokens/s, the oldest item in flight (seconds), and the ETA (seconds, None when it cannot
        be told; `eta_bound`: True when it comes from budgets, an upper bound)."""
        now = time.monotonic()
        elapsed = max(now - self.t0, 1e-9)
        with self._lock:
            finished = sum(self.tokens.values())
            tokens = max(self.live() - self.live0, finished) if self.live else finished
            oldest = max((now - t for _, t in self.flight.values()), default=None)
            left, bound = 0.0, False
            for n, total in self.todo.items():
                remaining = total - self.done[n]
                if not remaining:
                    continue
                if self.counted[n]:
                    left += remaining * self.tokens[n] / self.counted[n]
                elif self.budget.get(n):
                    left += remaining * self.budget[n]
                    bound = True
                else:
                    left = float("nan")
            left -= max(0, tokens - finished)  # already written by the answers in flight
        rate = tokens / elapsed
        eta = max(left, 0.0) / rate if rate > 0 and left == left else None
        return {"tokens": tokens, "rate": rate, "oldest": oldest, "eta": eta, "eta_bound": bound,
                "elapsed": elapsed, "in_flight": len(self.flight)}

    def _info(self) -> str:
        s = self.stats()
        parts = [f"{s['rate']:.1f} tok/s", f"{s['tokens']:,} tokens"]
        if s["oldest"] is not None:
            parts.append(f"oldest in flight {_eta(s['oldest'])}")
        if s["eta"] is not None:
            parts.append(f"ETA {'≤ ' if s['eta_bound'] else ''}{_eta(s['eta'])}")
        return " · ".join(parts)

    # ---- output

    def _start_timer(self, period: float) -> None:
        def tick() -> None:
            while not self._stop.wait(period):
                if self.bar:
                    self._refresh()
                else:
                    self._print()

        self._timer = threading.Thread(target=tick, name="progress", daemon=True)
        self._timer.start()

    def _refresh(self) -> None:
        if self.bar:
            self.bar.update(self.total_task, info=self._info())

    def _print(self) -> None:
        s = self.stats()
        elapsed = s["elapsed"]
        with self._lock:
            done = dict(self.done)
        lines = []
        for n, total in self.todo.items():
            d = done[n]
            rate = d / elapsed
            lines.append(f"progress: {n} {d}/{total} ({100 * d / total:.1f}%), {rate:.2f} items/s")
        eta = "-" if s["eta"] is None else ("≤ " if s["eta_bound"] else "") + _eta(s["eta"])
        oldest = "-" if s["oldest"] is None else _eta(s["oldest"])
        lines.append(f"progress: all {sum(done.values())}/{sum(self.todo.values())} items, {s['tokens']:,} tokens, "
                     f"{s['rate']:.1f} tokens/s, {s['in_flight']} in flight (oldest {oldest}), "
                     f"elapsed {_eta(elapsed)}, ETA {eta}")
        print("\n".join(lines), file=sys.stderr, flush=True)

    def stop(self) -> None:
        self._stop.set()
        if self._timer is not None:
            self._timer.join(timeout=5)
        if self.bar:
            self._refresh()
            self.bar.stop()
        elif self.lines:
            self._print()
