"""The data plane in the default lab: after the dial-out session is inService, ICMP between `home` and
`remote` crosses lnsd's batched data path — TUN batch -> PPP + L2TP written in place -> sendmmsg
towards lac-emu, and recvmmsg -> DataPath -> the call's PPP Link -> dlo0 — never the L2TP engine.
Checked on `show l2tp` (counters under "data-path") and `show dataplane`, before and after a
burst of pings; bounded waits (dlab.wait.wait_for), no sleeps.

Binaries: $DL_BUILD_DIR (default: build/, then build-int/) must hold lns/lnsd/lnsd and the peers.
"""
from __future__ import annotations


import pytest

from dlab.dialout_lab import KEY
from dlab.wait import wait_for

PINGS = 20


pytestmark = pytest.mark.lab_config()  # the plugin's module lab (dlab.pytest_plugin)


@pytest.fixture(scope="module")
def dataplane_lab(lab):
    return lab, lab.lnsd


def data_path(d) -> dict:
    return d.ctl("show", "l2tp")["system"]["data-path"]


def dataplane(d) -> dict:
    return {v["virtual-router"]: v for v in d.ctl("show", "dataplane")}["default"]


@pytest.mark.req("DP.batching", "L2TP.data", "DP.connected-peer")
def test_pings_cross_the_batched_data_path_not_the_engine(dataplane_lab):
    lab, d = dataplane_lab

    def in_service():
        return [x for x in d.ctl("show", "l2tp", "dial-out", "session")
                if x.get("state") == "inService" and x["session"] == KEY]
    lab.exec("home", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)  # the trigger
    wait_for(in_service, 30, "dial-out session inService")
    wait_for(lambda: lab.ping("home", "10.10.1.1"), 20, "ping 10.10.1.1 from home answered")

    before, tun_before = data_path(d), dataplane(d)
    engine_before = d.ctl("show", "l2tp")["system"]["counters"]
    cp = lab.exec("home", ["ping", "-n", "-q", "-c", str(PINGS), "-i", "0.05", "-W", "1", "10.10.1.1"],
                  check=False, timeout=30)
    assert cp.returncode == 0, f"pings through the dial-out lost: {cp.stdout} {cp.stderr}"
    # The replies are counted once the loop has handled them: wait for the counters, bounded.
    wait_for(lambda: data_path(d)["rx-data"] - before["rx-data"] >= PINGS, 5, "echo replies on the data path")
    after, tun_after = data_path(d), dataplane(d)
    engine_after = d.ctl("show", "l2tp")["system"]["counters"]

    assert after["tx-in-place"] - before["tx-in-place"] >= PINGS, (before, after)
    assert after["tx-sent"] - before["tx-sent"] >= PINGS, (before, after)
    assert after["sendmmsg-calls"] > before["sendmmsg-calls"], (before, after)
    # … on the socket connected to the LAC (limits.peer-sockets), which also received the replies
    # and the LAC's control messages (the session stayed up, every ping answered).
    assert after["tx-connected"] - before["tx-connected"] >= PINGS, (before, after)
    assert after["peer-sockets"] >= 1 and after["peer-sockets-refused"] == 0, after
    assert after["rx-data"] - before["rx-data"] >= PINGS, (before, after)
    for k in ("rx-malformed", "tx-dropped", "tx-would-block", "tx-errors"):
        assert after[k] == before[k] == 0, (k, before, after)
    assert tun_after["to-session"] - tun_before["to-session"] >= PINGS, (tun_before, tun_after)
    assert tun_after["tun-packets-out"] - tun_before["tun-packets-out"] >= PINGS, (tun_before, tun_after)
    # data-in / data-out include the fast path; nothing fell back to the engine's data handling.
    assert engine_after["data-in"] - engine_before["data-in"] == after["rx-data"] - before["rx-data"], (
        engine_before, engine_after, before, after)
    assert engine_after["unknown-session"] == engine_before["unknown-session"], (engine_before, engine_after)
