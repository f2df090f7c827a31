"""Smoke test of ``benchmarks/``: every script runs with a tiny N and reports sane figures.

Each script runs as a subprocess (``--quick --json FILE``, warnings as errors) with a
timeout; the test checks the JSON it wrote has the expected keys and positive
numbers, and that nothing leaked (unclosed sessions, pending tasks). Speed is never
asserted: the figures themselves are for ``benchmarks/README.md``, not for CI.
"""

from __future__ import annotations

import importlib.util
import json
import math
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.helpers.bodies import full_request

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
TIMEOUT = 90.0
LEAKS = ("Unclosed", "Task was destroyed", "Exception ignored", "Traceback")

pytestmark = pytest.mark.slow
# What benchmarks measure that has no public name (see each import's comment).
KNOWN_PRIVATE = {
    "bench_datalayer.py": {"from dumgum_async import _converter", "dumgum_async._converter"},
    "bench_throttle.py": {"dumgum_async._throttle"},
    # The ``bare`` layer: the client's POST without its call path, answer interpreted.
    "bench_client.py": {"dumgum_async._interpret"},
}


def _run(script: str, tmp_path: Path) -> dict[str, Any]:
    out = tmp_path / f"{script}.json"
    cmd = [sys.executable, "-W", "error", str(BENCHMARKS / script), "--quick"]
    done = subprocess.run(
        [*cmd, "--quiet", "--json", str(out)],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=BENCHMARKS.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    for sign in LEAKS:
        assert sign not in done.stderr, done.stderr[-3000:]
    data: dict[str, Any] = json.loads(out.read_text())
    assert data["machine"]["cpus"] >= 1
    return data


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value) and value > 0


def _check_targets(data: dict[str, Any]) -> None:
    assert data["targets"]
    for target in data["targets"]:
        assert set(target) == {"figure", "value", "target", "met"}
        assert isinstance(target["met"], bool)


def _loops() -> list[str]:
    return ["asyncio", "uvloop"] if importlib.util.find_spec("uvloop") else ["asyncio"]


def test_bench_client(tmp_path: Path) -> None:
    data = _run("bench_client.py", tmp_path)
    results = data["results"]
    assert set(results) == {"same", "warm", "cold"}
    for by_c in results.values():
        assert set(by_c) == {"1", "16", "64"}
        for by_name in by_c.values():
            assert set(by_name) == {"raw", "raw_notimeout", "dumgum", "dumgum_notel", "raw_control"}
            for entry in by_name.values():
                assert _positive(entry["cpu_us_per_req"])
                assert _positive(entry["rps"])
                assert _positive(entry["p99_us"])
            for name in ("raw_notimeout", "dumgum", "dumgum_notel", "raw_control"):
                assert _positive(by_name[name]["cpu_ratio"])
                assert _positive(by_name[name]["rps_ratio"])
                assert math.isfinite(by_name[name]["added_p50_us"])
    _check_targets(data)


def test_bench_client_profile(tmp_path: Path) -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-W",
            "error",
            str(BENCHMARKS / "bench_client.py"),
            "--quick",
            "--profile",
        ],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
        cwd=BENCHMARKS.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "by extra own time (dumgum - raw)" in done.stdout
    assert "dumgum_async" in done.stdout


def test_benchmark_request_is_the_tests_full_request() -> None:
    # benchmarks/ must not import tests/: they keep their own copy, checked here.
    written = json.loads((BENCHMARKS / "data" / "full_request.json").read_text(encoding="utf-8"))
    assert written == full_request()


def test_benchmarks_do_not_reach_into_tests() -> None:
    for script in sorted(BENCHMARKS.glob("*.py")):
        text = script.read_text(encoding="utf-8")
        assert "sys.path" not in text, script.name
        assert not re.search(r"^\s*(from|import) tests\b", text, re.MULTILINE), script.name


def test_benchmarks_use_private_modules_only_where_no_public_name_exists() -> None:
    for script in sorted(BENCHMARKS.glob("*.py")):
        text = script.read_text(encoding="utf-8")
        private = set(
            re.findall(r"dumgum_async(?:\.\w+)*\._\w+|from dumgum_async import _\w+", text)
        )
        assert private <= KNOWN_PRIVATE.get(script.name, set()), (script.name, private)


def test_bench_datalayer(tmp_path: Path) -> None:
    data = _run("bench_datalayer.py", tmp_path)
    results = data["results"]
    for group in ("encode", "from_dict", "from_json"):
        assert {"dumgum", "pydantic"} <= set(results[group])
        for entry in results[group].values():
            assert _positive(entry["us_per_call"])
        assert _positive(results[group]["dumgum"]["ratio"])
    assert any(name.startswith("cattrs") for name in results["from_dict"])
    _check_targets(data)


def test_bench_throttle(tmp_path: Path) -> None:
    data = _run("bench_throttle.py", tmp_path)
    n = data["params"]["n"]
    assert set(data["results"]) == set(_loops())
    for by_limiter in data["results"].values():
        assert set(by_limiter) == {"dumgum", "aiolimiter", "floor", "sleepers"}
        for entry in by_limiter.values():
            assert _positive(entry["cpu_us_per_acquire"])
            assert 1 <= entry["max_in_1s_window"] <= n
    for context in data["context"].values():
        assert _positive(context["sleep_wakeup_cpu_us"])
        assert _positive(context["uncontended_dumgum_cpu_us"])
    _check_targets(data)


def test_bench_bulk(tmp_path: Path) -> None:
    data = _run("bench_bulk.py", tmp_path)
    n = data["params"]["n"]
    entry = data["results"]["asyncio"]
    assert entry["ok"] + entry["failed"] == n
    assert entry["attempts"] >= n
    assert _positive(entry["wall_s"])
    assert _positive(entry["achieved_rate"])
    assert 1 <= entry["max_in_1s_window"] <= entry["attempts"]
    _check_targets(data)


def test_bench_memory(tmp_path: Path) -> None:
    data = _run("bench_memory.py", tmp_path)
    sizes = data["params"]["sizes"]
    assert set(data["results"]) == {str(n) for n in sizes}
    for n, entry in data["results"].items():
        assert entry["ok"] + entry["failed"] == int(n)
        assert _positive(entry["peak_rss_mb"])
        assert math.isfinite(entry["growth_max_mb"])
        assert len(entry["samples_mb"]) == int(n) // data["params"]["every"]
    _check_targets(data)


def test_bench_faults(tmp_path: Path) -> None:
    data = _run("bench_faults.py", tmp_path)
    n = data["params"]["n"]
    results = data["results"]
    assert set(results) == {"clean", "faults", "faults_no_budget"}
    assert results["clean"]["success_rate"] == 1.0
    for entry in results.values():
        assert 0.0 <= entry["success_rate"] <= 1.0
        assert entry["attempts_per_item"] >= 1.0
        assert entry["rounds"][0]["ok"] + entry["rounds"][0]["failed"] == n
    assert math.isclose(sum(data["fault_mix"].values()), 0.30)


def test_bench_otel(tmp_path: Path) -> None:
    data = _run("bench_otel.py", tmp_path)
    results = data["results"]
    assert set(results) == {"off", "api", "sdk", "raw_aiohttp"}
    for by_c in results.values():
        assert set(by_c) == {"1", "16", "64"}
        for entry in by_c.values():
            assert _positive(entry["cpu_us_per_req"])
            assert _positive(entry["rps"])
    for name in ("api", "sdk"):
        assert _positive(results[name]["64"]["cpu_vs_off"])


def test_bench_validate(tmp_path: Path) -> None:
    data = _run("bench_validate.py", tmp_path)
    sizes = data["params"]["sizes"]
    assert set(data["results"]) == {str(n) for n in sizes}
    for entry in data["results"].values():
        assert entry["validate"]["status"] == 0
        assert _positive(entry["lines_per_s"])
        assert _positive(entry["baseline_lines_per_s"])
        assert _positive(entry["validate"]["peak_rss_mb"])
    assert _positive(data["steady_lines_per_s"])


def test_bench_adaptive(tmp_path: Path) -> None:
    data = _run("bench_adaptive.py", tmp_path)
    n = data["params"]["n"]
    results = data["results"]
    assert set(results) == {"adaptive", "fixed 0.5R", "fixed 2R"}
    for entry in results.values():
        assert entry["ok"] == n
        assert entry["attempts"] >= n
        assert _positive(entry["wall_s"])
    assert _positive(results["adaptive"]["settled_per_s"])
    _check_targets(data)
