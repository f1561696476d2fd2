"""Every parser behind the bindings, fed truncated and bit-flipped versions of valid messages and
every public capture: only results or ParseError, never another exception or a crash."""
from __future__ import annotations

import random

import pytest

from dlab import proto as P


def mutations(wire: bytes, rng: random.Random, n: int = 400):
    for cut in range(len(wire)):
        yield wire[:cut]
    for _ in range(n):
        b = bytearray(wire)
        for _ in range(rng.randint(1, 4)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        yield bytes(b)


SAMPLES = [
    (P.L2TP.parse, P.L2TP.ocrq(called_number="5551001", assigned_session_id=7, tunnel_id=3).to_bytes()),
    (P.L2TP.parse, P.L2TP.sccrq(challenge=b"x" * 16, hide=["Challenge"], secret="s").to_bytes()),
    (P.Radius.parse, P.Radius.access_accept(1, [("Tunnel-Type", "L2TP", 1), ("ERX-Dial-Out-Number", "1")]).to_bytes()),
    (P.LCP.parse, P.LCP(1, 1).set_auth_chap_md5().to_bytes()),
    (P.IPCP.parse, P.IPCP(1, 1).to_bytes()),
    (P.PAP.parse, P.PAP(1, 1, peer_id="a", password="b").to_bytes()),
    (P.CHAP.parse, P.CHAP(1, 1, value=b"v" * 16, name="n").to_bytes()),
    (P.ppp_parse, P.LCP(9, 1).frame()),
]


@pytest.mark.parametrize("parse,wire", SAMPLES, ids=[f"{p.__qualname__}-{i}" for i, (p, _) in enumerate(SAMPLES)])
def test_mutated_inputs_only_raise_parse_error(parse, wire):
    rng = random.Random(1)
    ok = bad = 0
    for m in mutations(wire, rng):
        try:
            r = parse(m)
        except P.ParseError as e:
            assert e.reason and e.source
            bad += 1
            continue
        ok += 1
        if hasattr(r, "avps"):
            for a in r.avps:
                _ = (a.typed, a.name)
            r.unhide("s")
            r.check()
        if hasattr(r, "attributes"):
            for a in r.attributes:
                _ = (a.typed, a.name, a.tag)
            for call in (lambda: r.user_password("s"), lambda: r.tunnel_password("s", bytes(16))):
                try:
                    call()  # garbage decrypts to any octets: str with surrogates, or ParseError
                except P.ParseError:
                    pass
        for attr in ("peer_id", "password", "name", "message", "value", "options", "mru", "ip_address"):
            getattr(r, attr, None)
    assert bad > 0 and ok > 0


def test_every_public_capture_reads(captures):
    total = 0
    for path in sorted(captures.glob("*.pcap")):
        for p in P.read_pcap(str(path)):
            total += 1
            assert p["summary"]
            assert (p["packet"] is None) or (p["error"] is None)
    assert total > 400
