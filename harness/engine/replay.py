"""Responses read from a JSONL file instead of a model: rescoring saved outputs, checking external outputs.

Each line: {"sample_id": "...", "response": "...", "repeat": 0, "benchmark": "..."}; `repeat` and `benchmark` are
optional (default 0 and "any"); optional `reasoning`, `finish_reason`, `prompt_tokens`, `completion_tokens`.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from harness.engine.base import Request, Response, split_reasoning
from harness.errors import DataError

Key = tuple[str | None, str, int]


def read_responses(path: Path) -> dict[Key, dict]:
    """Parse the file, failing on the first bad line with its number (nothing is scored from a corrupt file)."""
    if not path.exists():
        raise DataError(f"responses file {path} does not exist")
    from harness.config import MAX_REPEATS

    out: dict[Key, dict] = {}
    try:
        raw = path.read_bytes()
    except IsADirectoryError:
        raise DataError(f"responses file {path} is a directory") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line_no = raw[:e.start].count(b"\n") + 1
        raise DataError(f"{path}:{line_no}: not UTF-8 text ({e.reason}); save the file as UTF-8") from None
    if True:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataError(f"{path}:{n}: not valid JSON ({e.msg}); fix or remove that line") from None
            if not isinstance(row, dict) or "sample_id" not in row or "response" not in row:
                raise DataError(f'{path}:{n}: each line needs "sample_id" and "response"')
            if not isinstance(row["response"], str):
                raise DataError(f'{path}:{n}: "response" must be a string')
            repeat = row.get("repeat", 0)
            if isinstance(repeat, bool) or not isinstance(repeat, int) or not 0 <= repeat < MAX_REPEATS:
                raise DataError(f'{path}:{n}: "repeat" must be a whole number from 0 to {MAX_REPEATS - 1}, got '
                                f"{repeat!r}")
            key = (row.get("benchmark"), str(row["sample_id"]), repeat)
            if key in out:
                raise DataError(f"{path}:{n}: duplicate response for sample {key[1]!r} repeat {repeat}")
            out[key] = row
    return out


class ReplayEngine:
    name = "replay"

    def __init__(self, path: Path):
        self.path = Path(path)
        self.rows = read_responses(self.path)

    def keys(self, benchmark: str) -> list[tuple[str, int]]:
        """(sample_id, repeat) pairs the file holds for a benchmark."""
        return [(sid, rep) for (b, sid, rep) in self.rows if b in (None, benchmark)]

    async def start(self, run_dir: Path) -> None:
        return None

    async def generate(self, request: Request) -> Response:
        assert request.key is not None, "replay needs the work item key"
        bench, sid, rep = request.key
        row = self.rows.get((bench, sid, rep)) or self.rows.get((None, sid, rep))
        if row is None:
            return Response(text="", error=f"no response in {self.path.name} for {bench}/{sid} repeat {rep}")
        text, reasoning = split_reasoning(row["response"], row.get("reasoning"))
        return Response(
            text=text,
            reasoning=reasoning,
            finish_reason=row.get("finish_reason", "stop"),
            prompt_tokens=row.get("prompt_tokens"),
            completion_tokens=row.get("completion_tokens"),
            latency_s=0.0,
        )

    async def close(self) -> None:
        return None

    def describe(self) -> dict[str, Any]:
        import hashlib

        return {
            "engine": self.name,
            "responses": str(self.path),
            "sha256": hashlib.sha256(self.path.read_bytes()).hexdigest(),
            "n": len(self.rows),
        }
