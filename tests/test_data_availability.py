"""`harness list` says which data each benchmark has: real upstream data found in a data directory, only the
repository's synthetic fixture (tests/fixtures, upstream schema), or none (issue 12, item 2)."""

from __future__ import annotations

import re

from typer.testing import CliRunner

from harness import config as cfg
from harness.cli import app
from harness.config import DataSpec
from harness.data import FIXTURES_DIR, availability
from conftest import FIXTURES


def test_fixtures_dir_is_the_tests_fixtures():
    assert FIXTURES_DIR.resolve() == FIXTURES.resolve()


def test_real_fixture_and_none(tmp_path):
    (tmp_path / "ifeval").mkdir()
    (tmp_path / "ifeval" / "test.jsonl").write_text('{"key": 1, "prompt": "x"}\n')
    ifeval = cfg.load_benchmark_spec("ifeval").data
    assert availability("ifeval", ifeval, [tmp_path]).kind == "real"
    assert availability("ifeval", ifeval, [tmp_path]).path == tmp_path / "ifeval" / "test.jsonl"
    # no real statements or tests for LiveCodeBench: the synthetic fixture directory, even with a data dir given
    lcb = availability("livecodebench_v6", cfg.load_benchmark_spec("livecodebench_v6").data, [tmp_path])
    assert lcb.kind == "fixture" and lcb.path == FIXTURES_DIR / "livecodebench_v6"
    assert lcb.describe().startswith("synthetic fixture: ")
    # a data directory that is the fixtures directory (as the tests set HARNESS_DATA_DIR) is not real data
    assert availability("hle", cfg.load_benchmark_spec("hle").data, [FIXTURES]).kind == "fixture"
    none = availability("x", DataSpec(hf="org/x", local="no_such_benchmark/test.jsonl"), [tmp_path])
    assert none.kind == "none" and none.path is None and none.describe() == "none"
    assert availability("x", DataSpec(hf="org/x"), [tmp_path]).kind == "none"  # no local path declared


def test_harness_list_names_the_kind_of_data(tmp_path, monkeypatch):
    (tmp_path / "ifeval").mkdir()
    (tmp_path / "ifeval" / "test.jsonl").write_text('{"key": 1, "prompt": "x"}\n')
    monkeypatch.setenv("HARNESS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("COLUMNS", "400")
    out = CliRunner().invoke(app, ["list"])
    assert out.exit_code == 0, out.output
    rows = {m.group(1): m.group(2) for m in re.finditer(r"│ (\w+)\s+│[^│]*│[^│]*│ ([^│]*?)\s*│", out.output)}
    assert rows["ifeval"] == f"real: {tmp_path / 'ifeval' / 'test.jsonl'}"
    assert rows["livecodebench_v6"] == f"synthetic fixture: {FIXTURES_DIR / 'livecodebench_v6'}"
    assert rows["kmmlu_pro"].startswith("synthetic fixture: ")
    assert rows["mmlu_pro"] == "none"  # neither in this data directory nor among the fixtures
    assert set(rows) == set(cfg.benchmark_names())
