"""Array tasks of a job: benchmarks × sample shards (the shard arithmetic itself is harness/shard.py)."""

from __future__ import annotations

from dataclasses import dataclass

from harness.errors import ConfigError
from harness.shard import ids_sha256, nonempty_shards, parse_shard, select_shard, shard_manifest  # noqa: F401


@dataclass(frozen=True)
class Task:
    """One array task: which benchmarks (None = the run's own selection) and which sample shard."""

    index: int
    benchmark: str | None
    shard: tuple[int, int] | None

    @property
    def tag(self) -> str:
        """Directory name of the task's run: `mmlu_pro`, `shard-0of4`, `mmlu_pro.shard-0of4`, or `all`."""
        parts = [self.benchmark] if self.benchmark else []
        if self.shard:
            parts.append(f"shard-{self.shard[0]}of{self.shard[1]}")
        return ".".join(parts) or "all"


def task_table(benchmarks: list[str] | None, sample_shards: int) -> list[Task]:
    """Array tasks for `benchmarks` (one group each; None: one group with everything) × `sample_shards`."""
    if sample_shards < 1:
        raise ConfigError(f"shards.samples must be >= 1, got {sample_shards}")
    groups: list[str | None] = list(benchmarks) if benchmarks else [None]
    tasks = []
    for b in groups:
        for i in range(sample_shards):
            tasks.append(Task(len(tasks), b, (i, sample_shards) if sample_shards > 1 else None))
    return tasks
