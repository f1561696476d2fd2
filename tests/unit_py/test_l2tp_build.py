"""L2TP.build(): control messages from the message and AVP registries (RFC 2661 §4.4, §6.1-§6.14).

These tests read nothing but the registries, so a message or an AVP added as one registry row is
buildable, round-trips and is covered here without a new test."""
from __future__ import annotations

import pytest

from dlab import proto as P

AVPS = {a["keyword"]: a for a in P.L2TP_AVP_REGISTRY}
MESSAGES = P.L2TP_MESSAGE_REGISTRY


def sample(avp: dict):
    """A value of the AVP's kind, in the form L2tpAvp.typed gives it back."""
    kind, n = avp["kind"], max(avp["min_length"], 3)
    return {
        "empty": True,
        "u16": avp["type"] + 1, "u32": 70000 + avp["type"], "bitmask32": 3, "u64": 0x0102030405060708,
        "proxy_authen_id": 7,
        "string": "s" * n, "octets": bytes([0x5A]) * (avp["min_length"] if avp["min_length"] == avp["max_length"] else n),
        "result_code": {"result": 2, "error": 6, "message": "vendor"},
        "protocol_version": {"version": 1, "revision": 0},
        "q931_cause": {"cause_code": 16, "cause_msg": 1, "advisory": "adv"},
        "call_errors": {"crc_errors": 1, "framing_errors": 2, "hardware_overruns": 3, "buffer_overruns": 4,
                        "timeout_errors": 5, "alignment_errors": 6},
        "accm": {"send_accm": 1, "receive_accm": 2},
    }[kind]


def test_the_registries_are_exposed_with_keywords():
    assert [m["name"] for m in MESSAGES] == list(P.MESSAGE_TYPES)
    assert AVPS["tx_connect_speed"]["name"] == "(Tx) Connect Speed"
    assert AVPS["q931_cause_code"]["kind"] == "q931_cause"
    ocrq = next(m for m in MESSAGES if m["name"] == "OCRQ")
    assert "called_number" in ocrq["required"] and ocrq["optional"] == ["sub_address"]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: m["name"])
def test_every_registry_message_builds_with_its_required_avps(msg):
    kw = {k: sample(AVPS[k]) for k in msg["required"]}
    m = P.L2TP.build(msg["name"], tunnel_id=3, session_id=0 if msg["scope"] == "tunnel" else 4, **kw)
    r = P.L2TP.parse(m.to_bytes())
    assert r.message_name == msg["name"] and r.message_type == msg["type"]
    r.validate()
    assert [a.name for a in r.avps] == ["Message Type"] + [AVPS[k]["name"] for k in msg["required"]]


@pytest.mark.parametrize("msg", MESSAGES, ids=lambda m: m["name"])
def test_every_registry_message_round_trips_every_avp(msg):
    kw = {k: sample(AVPS[k]) for k in reversed(msg["required"] + msg["optional"])}
    m = P.L2TP.build(msg["type"], tunnel_id=3, session_id=0 if msg["scope"] == "tunnel" else 4, ns=5, nr=6, **kw)
    r = P.L2TP.parse(m.to_bytes())
    r.validate()
    assert (r.tunnel_id, r.ns, r.nr) == (3, 5, 6)
    got = {AVPS_BY_TYPE[a.type]["keyword"]: a.typed for a in r.avps[1:]}
    assert list(got) == msg["required"] + msg["optional"]  # emitted in the row's order
    assert got == kw
    assert all(a.mandatory == AVPS_BY_TYPE[a.type]["mandatory"] and not a.hidden for a in r.avps[1:])
    # what a parsed message gives back builds the same message again
    assert P.L2TP.build(msg["name"], tunnel_id=3, session_id=r.session_id, ns=5, nr=6, **got).to_bytes() == m.to_bytes()


AVPS_BY_TYPE = {a["type"]: a for a in P.L2TP_AVP_REGISTRY}


def test_per_message_names_are_build_with_defaults():
    assert P.L2TP.ocrq(called_number="5551001").to_bytes() == P.L2TP.build(
        "Outgoing-Call-Request", called_number="5551001", assigned_session_id=1, call_serial_number=0,
        minimum_bps=0, maximum_bps=0, bearer_type=P.BEARER_DIGITAL, framing_type=P.FRAMING_SYNC).to_bytes()
    assert P.L2TP.stopccn(result=4).result_code == {"result": 4, "error": None, "message": None}
    assert "called_number" in P.L2TP.build.__doc__ and "OCRQ (RFC 2661 §6.9)" in P.L2TP.ocrq.__doc__


def test_none_leaves_an_avp_out_and_hiding_applies():
    m = P.L2TP.build("ICRQ", assigned_session_id=2, call_serial_number=1, calling_number=None,
                     called_number="123", hide=["called_number"], secret="s", random_vector=bytes(16), pad_length=0)
    r = P.L2TP.parse(m.to_bytes())
    assert r.calling_number is None and r.avp("Called Number").hidden
    assert r.unhide("s") == 1 and r.called_number == "123"


@pytest.mark.parametrize("kw,item,reason", [
    (dict(colled_number="1"), "colled_number", "not an AVP of the registry"),
    (dict(colled_number=None), "colled_number", "not an AVP of the registry"),
    (dict(host_name="lns"), "Host Name", "not an AVP of OCRQ"),
    (dict(sub_address=12), "Sub-Address", "expects string, got int"),
    (dict(assigned_session_id=-1), "Assigned Session ID", "value -1 is negative"),
    (dict(assigned_session_id=0x10000), "Assigned Session ID", "value 65536 exceeds 65535"),
    (dict(called_number=None), "Called Number", "required AVP is missing"),
])
def test_build_refusals_name_the_message_and_the_avp(kw, item, reason):
    ok = dict(assigned_session_id=1, call_serial_number=0, minimum_bps=0, maximum_bps=0, bearer_type=1,
              framing_type=1, called_number="5551001")
    with pytest.raises(P.BuildError) as e:
        P.L2TP.build("OCRQ", **{**ok, **kw})
    assert (e.value.message, e.value.item, e.value.reason) == ("OCRQ", item, reason)
    assert isinstance(e.value, P.ValidationError) and isinstance(e.value, TypeError)


def test_build_refuses_a_type_outside_the_registry():
    with pytest.raises(P.BuildError) as e:
        P.L2TP.build(5)
    assert (e.value.item, e.value.source) == ("Message Type", "RFC 2661 §3.2")
    with pytest.raises(ValueError, match="unknown L2TP message type"):
        P.L2TP.build("OCRX")


def test_per_message_names_refuse_what_their_message_does_not_carry():
    with pytest.raises(TypeError, match="Tie Breaker: not an AVP of SCCRP"):
        P.L2TP.sccrp(tie_breaker=1)
    with pytest.raises(P.BuildError, match="value of 15 octets, expected 16"):
        P.L2TP.scccn(challenge_response=bytes(15))
