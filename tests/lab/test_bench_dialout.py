"""`./lab bench dialout` at a small size (N = 20): the output has its shape and every site reached
inService. The figures themselves are printed by the benchmark, never asserted (docs/performance.md)."""
import pytest

from dlab.cli import bench_dialout as B
from dlab.dialout_lab import NotBuilt, build_dir

try:
    build_dir()
    BUILT = True
except NotBuilt:
    BUILT = False


@pytest.mark.skipif(not BUILT, reason="lnsd and the emulated peers are not built")
@pytest.mark.req("PERF.dialout-bench")
def test_bench_dialout_twenty_sites_all_reach_in_service():
    r = B.run_bench(20, lacs=2, tunnels=2, deadline=60.0, say=lambda *a: None)
    assert r["complete"], f"not every session settled before the deadline: {r['not_in_service']}"
    assert r["in_service"] == 20, f"sites not in service: {r['not_in_service']}"
    assert r["not_in_service"] == {}, f"sites not in service: {r['not_in_service']}"
    assert r["sender"]["sent"] == 20 and r["sender"]["errors"] == 0, f"trigger sender: {r['sender']}"
    lat = r["latency_ms"]
    assert set(lat) == {"min", "p50", "p90", "p99", "max", "mean"}, f"latency keys: {sorted(lat)}"
    assert 0 < lat["min"] <= lat["p50"] <= lat["p99"] <= lat["max"], f"latency figures out of order: {lat}"
    assert set(r["stages_ms"]) == {"trigger -> aaa-grant", "aaa-grant -> call-connected",
                                   "call-connected -> inService"}, f"stages: {sorted(r['stages_ms'])}"
    assert r["tun_dlo0"].get("tx_packets", 0) >= 20, f"triggers through dlo0: {r['tun_dlo0']}"
    assert r["calls_per_s"] and r["calls_per_s"] > 0, f"calls/s: {r.get('calls_per_s')}"
    assert r["lnsd"]["cpu_s"] >= 0 and r["lnsd"]["hwm_kib"] >= r["lnsd"]["rss_before_kib"] > 0, \
        f"lnsd figures: {r['lnsd']}"
    assert {"lac-emu", "lac-emu-2", "cpe-emu", "isdn-emu"} <= set(r["peers_cpu_s"]), \
        f"peers measured: {sorted(r['peers_cpu_s'])}"
    table = B.format_table(r)
    for row in ("calls/s to inService", "latency p50 / p90 / p99 (ms)", "lnsd CPU", "lnsd VmRSS"):
        assert row in table, f"row {row!r} missing from the table:\n{table}"


@pytest.mark.req("PERF.dialout-bench")
def test_plan_sites_gives_each_site_its_own_destination_number_and_user():
    sites = B.plan_sites(1000, lacs=3, tunnels=2)
    for attr in ("destination", "number", "name", "framed_ip", "key"):
        values = [getattr(s, attr) for s in sites]
        assert len(set(values)) == 1000, f"{attr} repeats"
    assert {s.lac for s in sites} == set(B.lac_addresses(3)), "calls spread over every LAC"
    assert len({(s.lac, s.assignment_id) for s in sites}) == 6, "3 LACs x 2 tunnels"
    assert all(s.destination.startswith("10.10.") for s in sites), "inside the dial-out prefix"
    with pytest.raises(ValueError, match="--sites"):
        B.plan_sites(0)


@pytest.mark.req("PERF.dialout-bench")
def test_plan_sites_past_forty_thousand_use_a_second_target():
    import ipaddress
    sites = B.plan_sites(B.MAX_SITES, lacs=4)
    for attr in ("destination", "number", "name", "framed_ip", "key"):
        assert len({getattr(s, attr) for s in sites}) == B.MAX_SITES, f"{attr} repeats"
    first, second = ipaddress.ip_network("10.10.0.0/16"), ipaddress.ip_network(B.SECOND_TARGET)
    for s in sites:
        dest = ipaddress.ip_address(s.destination)
        assert dest in (first if s.index < B.FIRST_BLOCK else second), s
        assert s.key == f"default/{first if dest in first else second}/{dest}", s
        assert ipaddress.ip_address(s.framed_ip) in ipaddress.ip_network("198.18.0.0/15"), s
        assert not s.destination.endswith((".0", ".255")) and not s.framed_ip.endswith((".0", ".255")), s
    assert max(len([s for s in sites if s.lac == a]) for a in B.lac_addresses(4)) <= 32767, "≤ 32767 calls per LAC"
    with pytest.raises(ValueError, match="--sites"):
        B.plan_sites(B.MAX_SITES + 1)
