"""Sharding a run into array jobs: by benchmark, by sample index, or both. Each shard is an ordinary run directory;
`harness merge` combines them into one.

A sample shard `I/N` (0 ≤ I < N) holds samples I, I+N, I+2N, … of each benchmark, after `--limit`. Strided rather
than contiguous because upstream files are sorted (MMLU-Pro by category, HRM8K by subset, AA-LCR by document
length): a stride gives every shard the same mix, sizes within one of each other, and long items spread out.
The shard's manifest records what it is a shard of (`shard_manifest`), so a merge can check that all shards of the
same sample list are present and can restore the unsharded `samples` and `sample_ids_sha256`.
"""

from __future__ import annotations

import hashlib
from typing import Sequence, TypeVar

from harness.errors import ConfigError

T = TypeVar("T")


def parse_shard(text: str) -> tuple[int, int]:
    """`"I/N"` → (I, N), 0-based: `--shard 0/4` … `--shard 3/4`."""
    index, sep, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        i = n = -1
    if not sep or n < 1 or not 0 <= i < n:
        raise ConfigError(f"--shard {text!r}: use I/N with 0 <= I < N, e.g. --shard 0/4 (the first of 4 shards)")
    return i, n


def select_shard(samples: Sequence[T], index: int, count: int) -> list[T]:
    """The samples of shard `index` of `count`: every `count`-th sample starting at `index`."""
    if count < 1 or not 0 <= index < count:
        raise ConfigError(f"shard {index}/{count}: need 0 <= index < count")
    return list(samples[index::count])


def ids_sha256(ids: Sequence[str]) -> str:
    """The manifest's `sample_ids_sha256`: sha256 of the sample ids in plan order, one per line."""
    return hashlib.sha256("\n".join(ids).encode()).hexdigest()


def shard_manifest(all_ids: Sequence[str], index: int, count: int) -> dict:
    """What a shard's manifest records under `benchmarks.<name>.shard`."""
    return {"index": index, "count": count, "of_samples": len(all_ids), "of_sample_ids_sha256": ids_sha256(all_ids)}


def nonempty_shards(n_samples: int, count: int) -> int:
    """How many of `count` shards hold at least one of `n_samples` samples (30 AIME problems in 64 shards: 30)."""
    return min(n_samples, count)
