"""bench/saturation.py: the virtual-time server model, on a small made-up mix (no data, under a second)."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def sat():
    spec = importlib.util.spec_from_file_location("saturation", REPO / "bench" / "saturation.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules["saturation"] = mod  # dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_schedule_is_no_worse_than_fifo_and_the_numbers_are_sane(sat, tmp_path, capsys):
    out = tmp_path / "sat.json"
    result = sat.main(["--synthetic", "--seed", "3", "--k", "256", "--concurrency", "320", "--json", str(out)])
    assert json.loads(out.read_text())["rows"] == result["rows"]
    assert "schedule" in capsys.readouterr().out
    fifo, new = result["rows"]["fifo"], result["rows"]["schedule"]
    assert new["ratio"] <= fifo["ratio"]
    for r in (fifo, new):
        assert r["lower_bound_s"] == fifo["lower_bound_s"]  # same work, same bound
        assert 1.0 <= r["ratio"] < 3.0
        assert 0.3 < r["gpu_busy"] <= 1.0
        assert 0.0 <= r["cache_hit"] <= 1.0
        assert 0.0 <= r["tail_s"] <= r["makespan_s"]
    assert new["cache_hit"] > 0.5  # repeats adjacent, documents shared: most prompt tokens come from the cache


def test_one_request_and_the_prefix_cache(sat):
    m = sat.Model(k=4, concurrency=4, a=10.0, b=0.0, prefill_tps=100.0, cache_tokens=1000)
    job = sat.Job("x", "1", 0, None, 0, 200, 50)
    res = sat.simulate([job], m)
    assert res["makespan_s"] == pytest.approx(200 / 100 + 50 / 10)  # prefill, then decode alone
    assert sat.lower_bound([job], m) == pytest.approx(50 / 10)
    # the second repeat of a prompt skips its prefill; a prompt larger than the cache is never kept
    twice = sat.simulate([job, sat.Job("x", "1", 1, None, 0, 200, 50)], m)
    assert twice["cache_hit"] == pytest.approx(0.5)
    big = sat.Job("x", "2", 0, None, 0, 2000, 1)
    assert sat.simulate([big, sat.Job("x", "2", 1, None, 0, 2000, 1)], m)["cache_hit"] == 0.0
