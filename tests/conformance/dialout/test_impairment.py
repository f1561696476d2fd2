"""The dial-out under link impairment, and triggers from the trigger injector.

The default lab (scenarios/topologies/default.yaml) with two extra addresses added through
default_topology(configure=...): 198.51.100.9 on `lac` (core link) and 192.0.2.19 on `radius` (aaa
link). An ImpairmentRelay (dlab.proto, scenarios/engine) listens on each and forwards to the real
peer: lnsd's home RADIUS server is 192.0.2.19 (relay -> FreeRADIUS 192.0.2.10, which accepts the
relay as a client) and FreeRADIUS names 198.51.100.9 as Tunnel-Server-Endpoint (relay -> lac-emu
198.51.100.2). The relays run in the lab namespaces on background threads (dlab.netns.socket_in).

Rules: the first Access-Request and the first OCRQ are dropped, every SCCRP is duplicated and the
OCRP is held until the LAC's next message has gone by (reordered). The trigger is one UDP datagram
to 10.10.1.1 crafted by the TriggerInjector and sent from `home`. Wire evidence from the per-link
captures (core, aaa), state from lnsd's events and `lnsctl show`; waits are bounded, never sleeps.
The last test sends malformed IPv4 triggers (bad IHL, truncated, bad checksum) on the `leased` link.
"""
from __future__ import annotations

import contextlib
import socket

import pytest

from dlab import netns
from dlab.dialout_lab import KEY
from dlab.wait import wait_for

RELAY_LAC, LAC = "198.51.100.9", "198.51.100.2"
RELAY_AAA, HOME_RADIUS = "192.0.2.19", "192.0.2.10"
OTHER_KEY = "default/10.10.0.0/16/10.10.2.2"


def _topology(raw: dict) -> None:
    for link in raw["links"]:
        if link["name"] == "core":
            link["ends"]["lac"] = [link["ends"]["lac"], f"{RELAY_LAC}/24"]
        if link["name"] == "aaa":
            link["ends"]["radius"] = list(link["ends"]["radius"]) + [f"{RELAY_AAA}/24"]
    home = raw["radius"]["home"]
    home["clients"] = list(home["clients"]) + [RELAY_AAA]
    for user in home["users"]:
        user["reply"] = [r.replace(f'Tunnel-Server-Endpoint:1 = "{LAC}"', f'Tunnel-Server-Endpoint:1 = "{RELAY_LAC}"')
                         for r in user["reply"]]


def _configs(c: dict) -> None:
    c["lnsd"]["virtual-routers"][0]["radius"]["authentication"][0]["address"] = RELAY_AAA


def _udp_in(lab, host: str, addr: tuple[str, int]):
    s = netns.socket_in(lab.ns(host))
    s.bind(addr)
    return s


@contextlib.contextmanager
def _relays(lab):
    """The two ImpairmentRelays with their rules, serving before lnsd starts (its config names
    RELAY_AAA; the home server's Tunnel-Server-Endpoint is RELAY_LAC): lab.relays = (l2tp, aaa)."""
    from dlab.proto import ImpairmentRelay
    socks = [_udp_in(lab, "lac", (RELAY_LAC, 1701)), _udp_in(lab, "lac", (RELAY_LAC, 0)),
             _udp_in(lab, "radius", (RELAY_AAA, 1812)), _udp_in(lab, "radius", (RELAY_AAA, 0))]
    try:
        l2tp = ImpairmentRelay(socks[0], socks[1], (LAC, 1701))
        l2tp.add_rule("drop-first-ocrq", "drop", protocol="l2tp", message="OCRQ", direction="forward", nth=1)
        l2tp.add_rule("duplicate-sccrp", "duplicate", message="SCCRP", direction="reverse")
        l2tp.add_rule("reorder-ocrp", "reorder", message="OCRP", direction="reverse", nth=1, hold=3.0)
        aaa = ImpairmentRelay(socks[2], socks[3], (HOME_RADIUS, 1812))
        aaa.add_rule("drop-first-access-request", "drop", message="Access-Request", direction="forward", nth=1)
        with l2tp, aaa:
            yield l2tp, aaa
    finally:
        for s in socks:
            s.close()


# The plugin's module lab (dlab.pytest_plugin), captured, with the relays made before the daemons.
pytestmark = pytest.mark.lab_config(topology=_topology, configure=_configs, relays=_relays)


@pytest.fixture(scope="module")
def impaired_lab(lab):
    return (lab, lab.lnsd, *lab.relays)


def _wire(lab, link: str) -> list[dict]:
    from dlab.proto import read_pcap
    return [p for p in read_pcap(str(lab.pcaps[link])) if p.get("packet") is not None]


def _l2tp_from_lns(lab, name: str) -> list:
    return [p["packet"] for p in _wire(lab, "core")
            if p["src"] == "198.51.100.1" and p["dst"] == RELAY_LAC and p["packet"].is_control
            and p["packet"].message_name == name]


def _in_service(d):
    return [x for x in d.ctl("show", "l2tp", "dial-out", "session") if x.get("state") == "inService"
            and x["session"] == KEY]


@pytest.fixture(scope="module")
def dialled(impaired_lab):
    """One UDP trigger from the injector; the dial-out reaches inService through both relays."""
    lab, d, l2tp, aaa = impaired_lab
    from dlab.proto import TriggerInjector
    raw = netns.socket_in(lab.ns("home"), socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    inj = TriggerInjector(raw)
    pkt = TriggerInjector.udp("203.0.113.10", "10.10.1.1", 40000, 9, b"dial-out trigger")
    assert inj.send(pkt) == len(pkt), "the whole trigger packet went out"
    raw.close()
    wait_for(lambda: _in_service(d), 45, "dial-out session inService through the impairing relays")
    ev = [e for e in d.event_list() if e["entity"] == "dialout.session" and e.get("id") == KEY]
    t: dict[str, int] = {}
    for e in ev:  # the first entry into each state
        t.setdefault(e.get("to"), e["time_ns"])
    if {"authenticating", "connecting", "inService"} <= t.keys():  # a figure for the log (-s), not an assertion
        print(f"\nimpaired dial-out: trigger -> connecting {(t['connecting'] - t['authenticating']) / 1e9:.2f}s, "
              f"-> inService {(t['inService'] - t['authenticating']) / 1e9:.2f}s")
    for line in l2tp.history + aaa.history:
        print("  relay:", line)
    return lab, d, l2tp, aaa


def _rule(relay, name: str) -> dict:
    return next(r for r in relay.rules if r["name"] == name)


@pytest.mark.req("LAB.trigger-injector", "T74.inService")
def test_injected_udp_trigger_starts_the_dial_out(dialled):
    lab, d, _, _ = dialled
    ev = d.event_list()
    trig = [e for e in ev if e["entity"] == "dialout.session" and e.get("to") == "authenticating"]
    assert trig and trig[0]["id"] == KEY, f"the injected UDP datagram to 10.10.1.1 is the trigger: {trig}"
    one = d.ctl("show", "l2tp", "dial-out", "session", KEY)
    assert one["lac"] == RELAY_LAC, f"lnsd dialled through the relay's address: {one}"


@pytest.mark.req("LAB.impairment", "L2TP.reliable")
def test_dropped_first_ocrq_is_retransmitted(dialled):
    """RFC 2661 §5.8: an unacknowledged control message is sent again with the same Ns."""
    lab, d, l2tp, _ = dialled
    r = _rule(l2tp, "drop-first-ocrq")
    assert r["applied"] == 1 and r["matched"] >= 2, f"one OCRQ dropped, its retransmission passed: {r}"
    ocrqs = wait_for(lambda: (lambda o: o if len(o) >= 2 else None)(_l2tp_from_lns(lab, "OCRQ")), 5,
                     "two OCRQs from lnsd on the core link")
    assert ocrqs[0].ns == ocrqs[1].ns, f"the retransmitted OCRQ keeps Ns: {[o.ns for o in ocrqs]}"
    assert ocrqs[0].assigned_session_id == ocrqs[1].assigned_session_id, "same call, not a new one"
    assert any("OCRQ: dropped by drop-first-ocrq" in h for h in l2tp.history), l2tp.history


@pytest.mark.req("LAB.impairment", "RADIUS.client")
def test_dropped_first_access_request_is_retransmitted_unchanged(dialled):
    """RFC 5080 §2.2.1: a retransmission keeps the Identifier and the Request Authenticator."""
    lab, _, _, aaa = dialled
    r = _rule(aaa, "drop-first-access-request")
    assert r["applied"] == 1 and r["matched"] >= 2, f"first Access-Request dropped, the next passed: {r}"
    reqs = [p["packet"] for p in _wire(lab, "aaa") if p["dst"] == RELAY_AAA and p["packet"].code_name == "Access-Request"]
    assert len(reqs) >= 2, f"two Access-Requests from lnsd to the relay: {len(reqs)}"
    assert reqs[0].identifier == reqs[1].identifier, "same Identifier"
    assert bytes(reqs[0].authenticator) == bytes(reqs[1].authenticator), "same Request Authenticator"
    answers = [p for p in _wire(lab, "aaa") if p["src"] == RELAY_AAA and p["packet"].code_name == "Access-Accept"]
    assert answers, "the Access-Accept came back through the relay"


@pytest.mark.req("LAB.impairment", "L2TP.reliable")
def test_duplicate_sccrp_is_acknowledged_and_ignored(dialled):
    """RFC 2661 §5.8: a duplicate is acknowledged but not processed again (one SCCCN, one tunnel)."""
    lab, d, l2tp, _ = dialled
    r = _rule(l2tp, "duplicate-sccrp")
    assert r["applied"] >= 1, f"SCCRP duplicated: {r}"
    wire = _wire(lab, "core")
    sccrps = [p for p in wire if p["src"] == RELAY_LAC and p["packet"].is_control and p["packet"].message_name == "SCCRP"]
    assert len(sccrps) >= 2 and sccrps[0]["payload"] == sccrps[1]["payload"], "lnsd received the SCCRP twice"
    scccn = _l2tp_from_lns(lab, "SCCCN")
    assert len(scccn) == 1, f"the duplicate did not make lnsd answer again: {len(scccn)} SCCCN"
    after = [p["packet"] for p in wire if p["index"] > sccrps[1]["index"] and p["src"] == "198.51.100.1"
             and p["packet"].is_control]
    acked = (sccrps[1]["packet"].ns + 1) & 0xFFFF
    assert any(m.nr >= acked for m in after), f"an ack (Nr >= {acked}) follows the duplicate"
    tunnels = d.ctl("show", "l2tp", "tunnel")
    assert len(tunnels) == 1, f"one tunnel, not two: {tunnels}"


@pytest.mark.req("LAB.impairment", "L2TP.reliable")
def test_reordered_ocrp_is_processed_in_order(dialled):
    """The OCRP is held until the LAC's next message passes it; lnsd still completes the call."""
    lab, d, l2tp, _ = dialled
    r = _rule(l2tp, "reorder-ocrp")
    assert r["applied"] == 1, f"OCRP held once: {r}"
    h = l2tp.history
    held = next(i for i, x in enumerate(h) if "OCRP: held by reorder-ocrp" in x)
    released = next(i for i, x in enumerate(h) if "OCRP: released" in x)
    passed = [x for x in h[held + 1:released] if x.split()[1] == "reverse"]
    assert "released after the next datagram" in h[released] and passed, \
        f"a later LAC message overtook the OCRP: {h[held:released + 1]}"
    ev = d.event_list()
    sess = [e.get("to") for e in ev if e["entity"] == "l2tp.session" and e.get("to")]
    assert "established" in sess, f"the call completed despite the reordering: {sess}"


@pytest.mark.req("LAB.trigger-injector")
@pytest.mark.tshark_tolerates("puts IPv4 packets with a bad IHL, a bad checksum and a truncated length on `leased` on purpose")
def test_malformed_ip_triggers_are_dropped_before_lnsd(dialled):
    """Bad IHL, truncated and bad-checksum IPv4 packets for the dial-out prefix go on the `leased`
    wire unchanged (AF_PACKET); the LNS host's IP layer discards them (RFC 1122 §3.2.1.1-2), so no
    dial-out starts and lnsd's trigger counters do not move. The same packet well-formed, through the
    same socket, is a trigger (the control)."""
    lab, d, _, _ = dialled
    from dlab.proto import TriggerInjector

    def snmp() -> dict:
        out = {}
        for f in ("/proc/net/snmp", "/proc/net/netstat"):
            lines = lab.exec("lns", ["cat", f]).stdout.splitlines()
            for head, vals in zip(lines[::2], lines[1::2]):
                k = head.split(":")[0]
                out.update({f"{k}.{n}": int(v) for n, v in zip(head.split()[1:], vals.split()[1:])})
        return out

    mac = lab.exec("lns", ["cat", "/sys/class/net/leased/address"]).stdout.strip()
    pkt_sock = netns.socket_in(lab.ns("home"), socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0800))
    pkt_sock.bind(("leased", 0x0800))
    inj = TriggerInjector(pkt_sock, next_hop_mac=mac)
    good = TriggerInjector.udp("203.0.113.10", "10.10.2.2", 40000, 9, b"x" * 40)
    before, dial_before = snmp(), d.ctl("show", "l2tp", "dial-out")["chassis"]
    for kind in ("bad-ihl", "truncated", "bad-checksum"):
        inj.send(TriggerInjector.malform(good, kind))

    def delta(s: dict, key: str) -> int:
        return s.get(key, 0) - before.get(key, 0)

    def dropped():
        s = snmp()
        d = {k: delta(s, k) for k in ("Ip.InHdrErrors", "IpExt.InCsumErrors", "IpExt.InTruncatedPkts")}
        # bad IHL and bad checksum: InHdrErrors (the latter also InCsumErrors); truncated: InTruncatedPkts
        return d if (d["Ip.InHdrErrors"] >= 2 and d["IpExt.InCsumErrors"] >= 1
                     and d["IpExt.InTruncatedPkts"] >= 1) else None
    wait_for(dropped, 5, "the LNS host's IP layer to count 3 malformed packets (header, checksum, truncated)")
    after = d.ctl("show", "l2tp", "dial-out")["chassis"]
    for k in ("malformed_triggers", "not_triggers", "sessions"):
        assert after[k] == dial_before[k], f"lnsd never saw the malformed packets: {k} {dial_before[k]} -> {after[k]}"
    assert not [x for x in d.ctl("show", "l2tp", "dial-out", "session") if x["session"] == OTHER_KEY]
    inj.send(good)   # control: the same path carries a well-formed trigger to lnsd
    wait_for(lambda: [x for x in d.ctl("show", "l2tp", "dial-out", "session") if x["session"] == OTHER_KEY], 10,
             "the well-formed packet through the same socket starts a dial-out for 10.10.2.2")
    assert inj.sent == 4, f"4 packets sent: {inj.sent}"
    pkt_sock.close()
