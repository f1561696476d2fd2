"""L2TP bindings: golden bytes equal to proto/l2tp's C++ tests, round trips, hidden AVPs, parse and
validation errors (RFC 2661)."""
from __future__ import annotations

import pytest

from dlab import proto as P


def h(s: str) -> bytes:
    return bytes.fromhex(s.replace(" ", ""))


def test_sccrq_golden_bytes_as_in_the_cxx_builders_test():
    # proto/l2tp/test/builders_test.cpp SccrqGoldenBytes
    want = h("c8 02 00 37 0000 0000 0000 0000"
             "80 08 0000 0000 0001"
             "80 08 0000 0002 0100"
             "80 09 0000 0007 6c6e73"
             "80 0a 0000 0003 00000001"
             "80 08 0000 0009 0001")
    assert P.L2TP.sccrq(assigned_tunnel_id=1, host_name="lns", framing_capabilities=1).to_bytes() == want


def test_hello_and_zlb_golden_bytes():
    assert P.L2TP.hello(tunnel_id=1, session_id=9).to_bytes() == h(
        "c8 02 00 14 00 01 00 00 00 00 00 00 80 08 0000 0000 0006")
    assert P.L2TP.zlb(1, 2, 3, 4).to_bytes() == h("c8 02 00 0c 00 01 00 02 00 03 00 04")


def test_data_message_golden_bytes():
    ppp = h("ff 03 c0 21 09 01 00 04")
    assert P.L2TP.data(1, 2, ppp).to_bytes() == h("00 02 0001 0002 ff03c021 09010004")
    assert P.L2TP.data(1, 2, ppp, ns=3).to_bytes() == h("08 02 0001 0002 0003 0000 ff03c021 09010004")


def test_ocrq_round_trip_with_every_field():
    m = P.L2TP.ocrq(called_number="5551001", assigned_session_id=7, min_bps=64000, max_bps=128000,
                    bearer_type=P.BEARER_DIGITAL, framing_type=P.FRAMING_SYNC, call_serial_number=77,
                    tunnel_id=9, ns=1, nr=2)
    r = P.L2TP.parse(m.to_bytes())
    assert (r.message_name, r.message_type, r.tunnel_id, r.ns, r.nr) == ("OCRQ", 7, 9, 1, 2)
    assert r.called_number == "5551001"
    assert (r.minimum_bps, r.maximum_bps, r.assigned_session_id, r.call_serial_number) == (64000, 128000, 7, 77)
    assert r.sub_address is None
    names = [a.name for a in r.avps]
    assert names[0] == "Message Type" and "Called Number" in names
    assert all(a.mandatory and not a.hidden for a in r.avps)
    assert r.get("Minimum BPS") == 64000 and r.avp("called_number").typed == "5551001"
    assert r.check() is None
    assert r.to_bytes() == m.to_bytes()


@pytest.mark.parametrize("build,name", [
    (lambda: P.L2TP.sccrp(assigned_tunnel_id=5, host_name="lac", challenge_response=bytes(16)), "SCCRP"),
    (lambda: P.L2TP.scccn(challenge_response=bytes(range(16))), "SCCCN"),
    (lambda: P.L2TP.stopccn(assigned_tunnel_id=5, result=4), "StopCCN"),
    (lambda: P.L2TP.ocrp(assigned_session_id=3, physical_channel_id=1), "OCRP"),
    (lambda: P.L2TP.occn(tx_connect_speed=64000, framing_type=1), "OCCN"),
    (lambda: P.L2TP.icrq(assigned_session_id=3, call_serial_number=1, calling_number="123"), "ICRQ"),
    (lambda: P.L2TP.icrp(assigned_session_id=3), "ICRP"),
    (lambda: P.L2TP.iccn(tx_connect_speed=64000, framing_type=1, proxy_authen_type=2), "ICCN"),
    (lambda: P.L2TP.cdn(result=7, error=7, assigned_session_id=3,
                        q931_cause={"cause_code": 16, "cause_msg": 0, "advisory": "x"}), "CDN"),
    (lambda: P.L2TP.wen(call_errors={"crc_errors": 5}), "WEN"),
    (lambda: P.L2TP.sli(send_accm=0, receive_accm=0xA0000), "SLI"),
])
def test_every_builder_round_trips_and_validates(build, name):
    m = build()
    r = P.L2TP.parse(m.to_bytes())
    assert r.message_name == name
    r.validate()
    assert r.to_bytes() == m.to_bytes()


def test_structured_values():
    assert P.L2TP.cdn(result=8, error=0, error_message="busy").result_code == {
        "result": 8, "error": 0, "message": "busy"}
    assert P.L2TP.wen(call_errors={"crc_errors": 5}).call_errors["crc_errors"] == 5
    assert P.L2TP.sli(send_accm=1, receive_accm=2).accm == {"send_accm": 1, "receive_accm": 2}
    assert P.L2TP.sccrq().protocol_version == {"version": 1, "revision": 0}


def test_unknown_keyword_is_a_type_error():
    with pytest.raises(TypeError, match="colled_number"):
        P.L2TP.ocrq(colled_number="1")


def test_challenge_response_vector_from_the_captures_readme():
    # jnetpcap_test-l2tp.pcap: SCCCN answer to the SCCRP Challenge with the empty secret
    got = P.challenge_response(3, "", h("b6649877b09c81bf59f12f80d3793d8c"))
    assert got == h("c36008af9229c3ebe1df454feaa77e29")


def test_hidden_avp_round_trip_with_fixed_random_parts():
    m = P.L2TP.sccrq(host_name="lns", challenge=b"0123456789abcdef", hide=["Challenge"], secret="s3cret",
                     random_vector=bytes(range(16)), pad_length=0)
    wire = m.to_bytes()
    assert b"0123456789abcdef" not in wire
    r = P.L2TP.parse(wire)
    ch = r.avp("Challenge")
    assert ch.hidden and ch.hidden_state == "undecodable" and ch.typed is None and r.challenge is None
    assert r.random_vector == bytes(range(16))
    assert r.unhide("wrong") == 0 or r.challenge != b"0123456789abcdef"
    r = P.L2TP.parse(wire)
    assert r.unhide("s3cret") == 1
    assert r.challenge == b"0123456789abcdef" and r.avp("Challenge").hidden_state == "decoded"
    # the same value through the module-level helpers (RFC 2661 §4.3)
    hidden = P.hide_value("Challenge", "s3cret", bytes(range(16)), b"0123456789abcdef")
    assert hidden == ch.wire_value
    assert P.unhide_value("Challenge", "s3cret", bytes(range(16)), hidden) == b"0123456789abcdef"


def test_unknown_mandatory_avp_and_malformed_avps_for_negative_tests():
    m = P.L2TP.ocrq(called_number="1", assigned_session_id=1)
    m.add_avp(99, b"\x01\x02", mandatory=True)
    m.add_avp(9, b"\x00\x01", vendor_id=311, mandatory=False)
    r = P.L2TP.parse(m.to_bytes())
    unknown = r.avps[-2]
    assert (unknown.type, unknown.recognized, unknown.mandatory, unknown.typed) == (99, False, True, None)
    assert unknown.value == b"\x01\x02" and unknown.name == "unknown"
    assert r.avps[-1].vendor_id == 311
    with pytest.raises(P.UnknownMandatoryAvp) as e:
        r.validate()
    assert e.value.attribute_type == 99 and e.value.session_scope and "4.1" in e.value.source
    # wrong length for the layout: kept, typed None, validation names the AVP
    bad = P.L2TP.control("SCCRQ").add_avp("Assigned Tunnel ID", b"\x00\x01\x02")
    r = P.L2TP.parse(bad.to_bytes())
    assert r.avp(9).typed is None
    with pytest.raises(P.ValidationError) as e:
        r.validate()
    assert e.value.message == "SCCRQ"


@pytest.mark.parametrize("wire,field", [
    ("c8 02", "header"),                                   # shorter than the header
    ("c8 01 00 0c 00 01 00 02 00 03 00 04", "header"),     # Ver 1 (L2F)
    ("c8 02 00 40 00 01 00 02 00 03 00 04", "header"),     # Length beyond the datagram
    ("c8 02 00 12 00 01 00 02 00 03 00 04 80 09 00 00 00 00", "avp"),  # AVP overruns
])
def test_parse_errors_carry_protocol_field_reason_source_offset(wire, field):
    with pytest.raises(P.ParseError) as e:
        P.L2TP.parse(h(wire))
    err = e.value
    assert err.protocol == "l2tp"
    assert field in err.field
    assert err.reason and err.source.startswith("RFC 2661")
    assert isinstance(err.offset, int)
    assert isinstance(err, ValueError)


def test_header_fields_are_settable():
    m = P.L2TP.hello()
    m.tunnel_id, m.ns, m.nr = 7, 3, 4
    r = P.L2TP.parse(bytes(m))
    assert (r.tunnel_id, r.session_id, r.ns, r.nr) == (7, 0, 3, 4)
    assert P.MESSAGE_TYPES["OCRQ"] == 7 and P.AVP_TYPES["Called Number"] == 21
