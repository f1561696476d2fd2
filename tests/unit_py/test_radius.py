"""RADIUS bindings: RFC 2865 §7 vectors (as in proto/radius's C++ tests), dictionary names,
authenticators, Message-Authenticator, Tunnel-Password, parse errors."""
from __future__ import annotations

import pytest

from dlab import proto as P


def h(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


# RFC 2865 §7.1 / §7.2 (proto/radius/test/auth_test.cpp), secret "xyzzy5461"
REQ71 = h("01 00 00 38 0f 40 3f 94 73 97 80 57 bd 83 d5 cb 98 f4 22 7a 01 06 6e 65 6d 6f 02 12 0d be 70 8d"
          "93 d4 13 ce 31 96 e4 3f 78 2a 0a ee 04 06 c0 a8 01 10 05 06 00 00 00 03")
RESP71 = h("02 00 00 26 86 fe 22 0e 76 24 ba 2a 10 05 f6 bf 9b 55 e0 b2 06 06 00 00 00 01 0f 06 00 00 00 00"
           "0e 06 c0 a8 01 03")
SECRET = "xyzzy5461"


def test_rfc2865_example_parses_and_round_trips():
    r = P.Radius.parse(REQ71)
    assert (r.code, r.code_name, r.identifier, r.length) == (1, "Access-Request", 0, 0x38)
    assert r.get("User-Name") == "nemo"
    assert r.get("NAS-IP-Address") == "192.168.1.16"
    assert r.get("NAS-Port") == 3
    assert r.user_password(SECRET) == "arctangent"
    assert [a.name for a in r.attributes] == ["User-Name", "User-Password", "NAS-IP-Address", "NAS-Port"]
    assert r.to_bytes() == REQ71


def test_response_authenticator_verify_and_sign_reproduce_the_rfc_bytes():
    req_auth = REQ71[4:20]
    assert P.Radius.verify_response(RESP71, req_auth, SECRET) == "ok"
    assert P.Radius.verify_response(RESP71, req_auth, "wrong") == "bad_authenticator"
    resp = P.Radius.parse(RESP71)
    resp.authenticator = bytes(16)
    resp.sign_response(req_auth, SECRET)
    assert resp.to_bytes() == RESP71


def test_tagged_tunnel_attributes_encode_as_freeradius_does():
    # captures/README.md: Tag 1 Tunnel-Type=L2TP, Tunnel-Medium-Type=IPv4, Tunnel-Preference=100
    r = P.Radius.build("Access-Accept", 0, [("Tunnel-Type", "L2TP", 1), ("Tunnel-Medium-Type", "IPv4", 1),
                                            ("Tunnel-Preference", 100, 1)])
    assert r.to_bytes()[20:] == h("40 06 01 00 00 03 41 06 01 00 00 01 53 06 01 00 00 64")
    assert r.get("Tunnel-Type", tag=1) == 3


def test_erx_vendor_attribute_framing():
    # captures/README.md: ERX (vendor 4874) attribute 65 "UNPOLICED" with tag 1
    r = P.Radius("Access-Accept", 0).add("ERX-Service-Activate", "UNPOLICED", tag=1)
    assert r.to_bytes()[20:] == h("1a 12 00 00 13 0a 41 0c 01 55 4e 50 4f 4c 49 43 45 44")
    a = r.attributes[0]
    assert (a.is_vsa, a.vendor, a.vendor_type, a.name) == (True, 4874, 65, "ERX-Service-Activate")


def test_access_accept_convenience_signed_with_tunnel_password_and_message_authenticator():
    req = P.Radius.access_request(7, {"User-Name": "site1", "Service-Type": "Outbound-User"}, secret="s",
                                  message_authenticator=True)
    wire_req = req.to_bytes()
    assert P.Radius.verify_request(wire_req, "s") == "ok"
    assert P.Radius.verify_request(wire_req, "x") == "bad_message_authenticator"
    acc = P.Radius.access_accept(7, [("ERX-Dial-Out-Number", "5551001"), ("Tunnel-Password", "tsecret", 1),
                                     ("Framed-Route", "10.10.1.0/24 0.0.0.0 1")],
                                 secret="s", request_authenticator=req.authenticator, message_authenticator=True)
    wire = acc.to_bytes()
    assert P.Radius.verify_response(wire, req.authenticator, "s") == "ok"
    back = P.Radius.parse(wire)
    assert back.code_name == "Access-Accept" and back.identifier == 7
    assert back.get("ERX-Dial-Out-Number") == "5551001"
    assert back.tunnel_password("s", req.authenticator) == "tsecret"
    assert "Message-Authenticator" in back and 80 in back


@pytest.mark.parametrize("plain,wire", [
    ("foo", "45 15 00 99 73 05 1d e6 c5 57 30 7d ac d5 da a5 99 f4 e2 6e 7e"),
    ("barbar", "45 15 00 c0 6f 25 5f 09 b7 dc 0e 4a 1a 46 56 05 f4 8f 7c 0b a4"),
])
def test_tunnel_password_vectors(plain, wire):
    attr = h(wire)
    r = P.Radius("Access-Accept", 0).add(69, attr[2:])
    assert r.tunnel_password("testing123", bytes(range(16))) == plain


def test_chap_password():
    v = P.chap_password(1, "pw", b"c" * 16)
    assert len(v) == 17 and v[0] == 1


def test_parse_errors():
    with pytest.raises(P.ParseError) as e:
        P.Radius.parse(REQ71[:10])
    assert e.value.protocol == "radius" and e.value.source.startswith("RFC 2865")
    with pytest.raises(P.ParseError):
        P.Radius.parse(REQ71[:20] + b"\x01\x00")  # Length field 0x38 beyond the buffer
    assert P.Radius.verify_request(b"\x01", "s") == "malformed"


def test_unknown_attribute_name_is_a_key_error():
    with pytest.raises(KeyError):
        P.Radius().add("Dlab-Not-An-Attribute", "x")
    assert P.radius_attribute("Tunnel-Type")["has_tag"] is True
