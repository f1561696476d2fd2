"""`./lab bench loadgen`'s per-call CPU budget and table (dlab.cli.bench_loadgen), from a dl_loadgen
JSON result without a lab: lnsd, the generator, each watched FreeRADIUS server and the rest of the
machine's cores at the achieved rate."""
from __future__ import annotations

import pytest

from dlab.cli import bench_loadgen as B


def result(calls_per_s: float = 1000.0, watched: dict | None = None) -> dict:
    total = {"count": 10, "p50": 2.0, "p90": 3.0, "p99": 4.0, "max": 5.0, "mean": 2.5}
    return {"mode": "dialout", "offered_rate": 1000.0, "in_service": 10, "sites": 10, "calls_per_s": calls_per_s,
            "latency_ms": {"total": total, "radius": total, "l2tp": total, "ppp": total},
            "lns": {"cpu_ms_per_call": 0.3}, "loadgen": {"cpu_ms_per_call": 0.2},
            "watched": watched if watched is not None else {
                "radius-home": {"pid": 1, "cpu_s": 1.0, "cpu_ms_per_call": 0.25},
                "radius-lns": {"pid": 2, "cpu_s": 1.2, "cpu_ms_per_call": 0.35},
                "radius-home-b": {"pid": 3, "cpu_s": 0.0, "cpu_ms_per_call": 0.0}},
            "failures": {}, "load_average": [0.5, 0.4, 0.3]}


def test_budget_splits_the_cores_per_call():
    b = B.budget_per_call(result(), cores=2)
    # 2 cores at 1 000 calls/s: 2 ms of CPU per call in all
    assert b["machine"] == 2.0
    assert b["lnsd"] == 0.3 and b["loadgen"] == 0.2 and b["radius-home"] == 0.25 and b["radius-lns"] == 0.35
    assert b["rest"] == pytest.approx(2.0 - 0.3 - 0.2 - 0.25 - 0.35 - 0.0)


def test_budget_without_a_rate_or_an_lns():
    r = result(calls_per_s=0.0)
    r["lns"] = None
    b = B.budget_per_call(r, cores=2)
    assert b["lnsd"] is None and b["machine"] is None and b["rest"] is None


def test_table_has_a_column_per_working_server_and_the_rest():
    r = result()
    r["budget_ms_per_call"] = B.budget_per_call(r, cores=2)
    head, row = B.format_table([r]).splitlines()[:2]
    assert "radius-home ms/call" in head and "radius-lns ms/call" in head and "rest ms/call" in head
    assert "radius-home-b" not in head, "a server that did no work gets no column"
    assert "0.250" in row and "0.350" in row and "0.900" in row


def test_table_without_watched_processes_keeps_its_columns():
    r = result(watched={})
    assert "rest ms/call" not in B.format_table([r])
