"""dlab.proto.ImpairmentRelay and TriggerInjector (bindings/src/impairment.cpp, scenarios/engine)
on loopback, without namespaces: a client socket -> relay -> an echoing peer socket, with rules."""
from __future__ import annotations

import socket

import pytest

from dlab.wait import wait_for


def _udp(addr=("127.0.0.1", 0), timeout=2.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(addr)
    s.settimeout(timeout)
    return s


@pytest.fixture
def path(native):
    """(client, relay, peer): client talks to the relay's listening socket, the relay forwards to peer."""
    listen, upstream, peer, client = _udp(), _udp(), _udp(), _udp()
    relay = native.ImpairmentRelay(listen, upstream, peer.getsockname())
    relay.start()
    client.connect(listen.getsockname())
    yield client, relay, peer
    relay.stop()
    for s in (listen, upstream, peer, client):
        s.close()


def ocrq(native, ns=1):
    return native.L2TP.ocrq(called_number="5551001", assigned_session_id=7, tunnel_id=3, ns=ns, nr=1).to_bytes()


@pytest.mark.req("LAB.impairment")
def test_classify_names_what_rules_match(native):
    assert native.impairment_classify(1701, 1701, ocrq(native)) == ("l2tp", "OCRQ")
    zlb = native.L2TP.zlb(3, 0, 2, 1).to_bytes()
    assert native.impairment_classify(1701, 1701, zlb) == ("l2tp", "ZLB")
    req = native.Radius.access_request(7, {"User-Name": "u"}, secret="s")
    assert native.impairment_classify(40000, 1812, req.to_bytes()) == ("radius-auth", "Access-Request")
    assert native.impairment_classify(1701, 1701, b"\xc8") == ("l2tp", "malformed"), "never raises on junk"


@pytest.mark.req("LAB.impairment")
def test_relay_forwards_both_ways_and_drops_the_nth(native, path):
    client, relay, peer = path
    # loopback ports are ephemeral, so datagrams classify as "unknown": match the peer's port instead
    relay.add_rule("drop-2nd", "drop", port=peer.getsockname()[1], direction="forward", nth=2)
    for ns in (1, 2, 3):
        client.send(ocrq(native, ns))
    got = [peer.recvfrom(2048) for _ in range(2)]
    assert [native.L2TP.parse(b).ns for b, _ in got] == [1, 3], "the 2nd OCRQ was dropped"
    peer.sendto(b"answer", got[0][1])  # back through the relay to the client
    assert client.recv(2048) == b"answer", "reverse direction reaches the client"
    rule = relay.rules[0]
    assert (rule["matched"], rule["applied"]) == (3, 1), rule
    c = wait_for(lambda: (lambda c: c if c["tx_reverse"] == 1 else None)(relay.counters), 2, "reverse counted")
    assert c["rx_forward"] == 3 and c["tx_forward"] == 2, c
    assert any("dropped by drop-2nd" in h for h in relay.history), relay.history


@pytest.mark.req("LAB.impairment")
def test_relay_duplicates_delays_and_reorders(native, path):
    client, relay, peer = path
    relay.add_rule("dup", "duplicate", message="", nth=1)
    relay.add_rule("hold", "reorder", nth=2, hold=5.0)
    relay.add_rule("late", "delay", nth=3, delay=0.3)
    for p in (b"a", b"b", b"c", b"d", b"e", b"f"):
        client.send(p)
    got = [peer.recv(64) for _ in range(7)]
    # A rule sees only what no earlier rule acted on: "dup" takes a; "hold" sees b, c and holds c
    # until d has passed; "late" sees b, d, e and delays e by 0.3 s, so f overtakes it.
    assert got == [b"a", b"a", b"b", b"d", b"c", b"f", b"e"], got
    assert [r["applied"] for r in relay.rules] == [1, 1, 1], relay.rules


def test_bad_rules_are_refused_with_the_rule_named(native, path):
    _, relay, _ = path
    with pytest.raises(ValueError, match="'r1'"):
        relay.add_rule("r1", "drop", nth=0)
    with pytest.raises(ValueError, match="not one of"):
        relay.add_rule("r2", "mangle")
    with pytest.raises(ValueError, match="at most one"):
        relay.add_rule("r3", "drop", nth=1, every=2)
    with pytest.raises(ValueError, match="forward or reverse"):
        relay.add_rule("r4", "drop", direction="sideways")
    assert relay.rules == [], "nothing half-added"


@pytest.mark.req("LAB.trigger-injector")
def test_trigger_builders_and_malformations(native):
    T = native.TriggerInjector
    p = T.udp("203.0.113.10", "10.10.1.1", 40000, 9, b"hi")
    assert len(p) == 30 and p[9] == 17 and p[16:20] == bytes([10, 10, 1, 1]), p.hex()
    assert T.icmp_echo("203.0.113.10", "10.10.1.1", ident=7, seq=1)[9] == 1
    assert T.tcp_syn("203.0.113.10", "10.10.1.1", 40000, 80)[33] & 0x02, "SYN flag"
    assert T.malform(p, "bad-ihl")[0] == 0x44
    assert len(T.malform(p, "truncated")) < len(p)
    assert T.malform(p, "bad-checksum")[10:12] != p[10:12]
    with pytest.raises(ValueError, match="bad-ihl, truncated, bad-checksum"):
        T.malform(p, "short")
    with pytest.raises(ValueError, match="bad IPv4 address"):
        T.udp("nowhere", "10.10.1.1", 1, 2)


def test_injector_sends_through_a_raw_socket_on_loopback(native):
    import os
    if os.geteuid() != 0:
        pytest.skip("raw sockets need root")
    T = native.TriggerInjector
    rx = _udp()
    port = rx.getsockname()[1]
    raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        inj = T(raw)
        assert inj.send(T.udp("127.0.0.1", "127.0.0.1", 40000, port, b"trigger")) == 35
        assert rx.recv(64) == b"trigger", "the crafted datagram arrived"
        assert inj.sent == 1
    finally:
        raw.close()
        rx.close()
