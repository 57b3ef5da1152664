"""Dataset sources: a per-benchmark local path | a data dir | the HF hub at a pinned revision. Checksums recorded.

Resolution order for a benchmark:
  1. `--data NAME=PATH` (a file, or a directory holding the spec's `local` path)
  2. `--data-dir DIR` / `HARNESS_DATA_DIR` / `../shared/data`: DIR/<spec.data.local>
  3. the HF hub (`datasets`, pinned revision) unless HF_HUB_OFFLINE / HF_DATASETS_OFFLINE is set
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.config import REPO_ROOT, DataSpec, default_data_dir
from harness.errors import DataError


@dataclass
class LoadedData:
    rows: list[dict[str, Any]]
    source: dict[str, Any] = field(default_factory=dict)  # for the manifest: kind, path/id, revision, sha256


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _open_text(path: Path):
    if path.suffix == ".gz":
        return io.TextIOWrapper(gzip.open(path, "rb"), encoding="utf-8")
    return open(path, encoding="utf-8")


def _format(path: Path, fmt: str) -> str:
    if fmt != "auto":
        return fmt
    name = path.name.removesuffix(".gz")
    for ext in ("jsonl", "csv", "json", "parquet"):
        if name.endswith("." + ext):
            return ext
    raise DataError(f"cannot tell the format of {path}; name it .jsonl, .csv, .json or .parquet (optionally .gz)")


def _json_array(path: Path, text: str) -> list[dict[str, Any]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: corrupt JSON array ({e.msg}); re-download or repair the file") from None
    if not all(isinstance(r, dict) for r in data):
        raise DataError(f"{path}: a JSON array of rows must hold objects only")
    return data


def read_rows(path: Path, fmt: str = "auto") -> list[dict[str, Any]]:
    fmt = _format(path, fmt)
    try:
        if fmt == "jsonl":
            rows = []
            with _open_text(path) as f:
                for n, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    if not rows and line.lstrip().startswith("["):
                        # one JSON array under a .jsonl name (KoBALT-700 ships data/train.jsonl that way)
                        return _json_array(path, line + f.read())
                    try:
                        rows.append(json.loads(line))
                    except json.JSONDecodeError as e:
                        raise DataError(
                            f"{path}:{n}: corrupt JSONL line ({e.msg}); re-download or repair the file"
                        ) from None
            return rows
        if fmt == "csv":
            csv.field_size_limit(2**31 - 1)  # AA-LCR rows carry ~100k-token documents in one field
            with _open_text(path) as f:
                return list(csv.DictReader(f))
        if fmt == "json":
            with _open_text(path) as f:
                data = json.load(f)
            return data if isinstance(data, list) else data.get("data") or data.get("rows") or []
        if fmt == "parquet":
            try:
                import pyarrow.parquet as pq
            except ImportError:
                raise DataError(f"{path} is parquet: install pyarrow (`pip install pyarrow`)") from None
            return pq.read_table(path).to_pylist()
    except (OSError, EOFError, UnicodeDecodeError, csv.Error) as e:
        raise DataError(f"{path}: cannot read ({e}); the file is corrupt or truncated: fetch it again") from None
    raise DataError(f"unsupported format {fmt!r}")


def _local_candidate(base: Path, spec: DataSpec) -> Path | None:
    if base.is_file():
        return base
    if spec.local:
        p = base / spec.local
        if p.exists():
            return p
    return None


def resolve_local(name: str, spec: DataSpec, override: Path | None, data_dirs: list[Path]) -> Path | None:
    if override is not None:
        # a file, a data root holding spec.local, or the benchmark's own data directory
        p = _local_candidate(override, spec) or (override if override.is_dir() else None)
        if p is None:
            raise DataError(
                f"{name}: --data path {override} does not exist"
                + (f" (looked for {override / spec.local})" if spec.local and override.is_dir() else "")
            )
        return p
    for d in data_dirs:
        p = _local_candidate(d, spec)
        if p is not None:
            return p
    return None


def data_dirs(explicit: list[Path] | None) -> list[Path]:
    dirs = list(explicit or [])
    default = default_data_dir()
    if default is not None:
        dirs.append(default)
    return dirs


# synthetic rows in the exact upstream schema, for benchmarks whose real data is not available (tests/fixtures/README.md)
FIXTURES_DIR = REPO_ROOT / "tests" / "fixtures"


@dataclass(frozen=True)
class Availability:
    """Which data a benchmark has: `real` (upstream data found in a data directory), `fixture` (only the repository's
    synthetic fixture, built in the upstream schema for tests) or `none`; `path` is what was found."""
    kind: str  # real | fixture | none
    path: Path | None = None

    def describe(self) -> str:
        if self.kind == "real":
            return f"real: {self.path}"
        if self.kind == "fixture":
            return f"synthetic fixture: {self.path}"
        return "none"


def _is_fixture(path: Path) -> bool:
    try:
        path.resolve().relative_to(FIXTURES_DIR.resolve())
        return True
    except ValueError:
        return False


def availability(name: str, spec: DataSpec, dirs: list[Path]) -> Availability:
    """Real data found in `dirs` (a path under tests/fixtures counts as a fixture, e.g. HARNESS_DATA_DIR set to it);
    else the repository's synthetic fixture for the spec's `local` path; else none."""
    try:
        found = resolve_local(name, spec, None, dirs)
    except DataError:
        found = None
    if found is not None:
        return Availability("fixture" if _is_fixture(found) else "real", found)
    fixture = _local_candidate(FIXTURES_DIR, spec) if spec.local and FIXTURES_DIR.is_dir() else None
    return Availability("fixture", fixture) if fixture is not None else Availability("none")


def hub_offline() -> bool:
    return any(os.environ.get(v, "") in ("1", "true", "True") for v in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE"))


def load_rows(name: str, spec: DataSpec, override: Path | None = None, dirs: list[Path] | None = None) -> LoadedData:
    """Load a benchmark's upstream rows from the first available source."""
    search = data_dirs(dirs)
    path = resolve_local(name, spec, override, search)
    if path is not None:
        if path.is_dir():
            files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
            if not files:
                raise DataError(f"{name}: data directory {path} is empty")
            rows = []
            for f in files:
                try:
                    _format(f, spec.format)
                except DataError:
                    continue  # READMEs and the like
                for r in read_rows(f, spec.format):
                    r.setdefault("_file", f.name)
                    rows.append(r)
            digest = hashlib.sha256("".join(sha256_file(f) for f in files).encode()).hexdigest()
            return LoadedData(rows, {"kind": "local", "path": str(path), "sha256": digest, "files": len(files)})
        return LoadedData(
            read_rows(path, spec.format), {"kind": "local", "path": str(path), "sha256": sha256_file(path)}
        )
    where = ", ".join(str(d / (spec.local or "")) for d in search) or "(no data dir)"
    if not spec.hf:
        raise DataError(f"{name}: no local data found (looked in {where}); pass --data-dir DIR or --data {name}=PATH")
    if hub_offline():
        raise DataError(
            f"{name}: no local data found (looked in {where}) and the hub is offline; "
            f"build a bundle on a connected machine or pass --data {name}=PATH"
        )
    return _load_hub(name, spec, where)


def _load_hub(name: str, spec: DataSpec, where: str) -> LoadedData:
    try:
        import datasets
    except ImportError:
        raise DataError(
            f"{name}: no local data found (looked in {where}); either pass --data-dir / --data {name}=PATH, "
            f"or install `harness[hub]` to fetch {spec.hf} from the Hugging Face hub"
        ) from None
    try:
        ds = datasets.load_dataset(spec.hf, spec.config, split=spec.split, revision=spec.revision)
    except Exception as e:  # noqa: BLE001 - any hub failure becomes one clear message
        raise DataError(
            f"{name}: cannot load {spec.hf} (config {spec.config}, revision {spec.revision}) from the hub: {e}. "
            f"Without network, pass --data-dir / --data {name}=PATH"
        ) from None
    rows = [dict(r) for r in ds]
    fp = getattr(ds, "_fingerprint", None)
    return LoadedData(
        rows,
        {"kind": "hf", "id": spec.hf, "config": spec.config, "split": spec.split, "revision": spec.revision,
         "fingerprint": fp},
    )
