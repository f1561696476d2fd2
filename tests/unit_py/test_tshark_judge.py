"""dlab.tshark_judge on public captures: a clean L2TP + PPP capture passes with the message types
and PPP protocols it holds, a fuzzed RADIUS capture fails naming the malformed frame and tshark's
expert message, and an expectation the capture does not meet fails naming what is missing."""
from __future__ import annotations

import shutil

import pytest

from dlab import tshark_judge as J

pytestmark = pytest.mark.skipif(shutil.which("tshark") is None, reason="tshark not installed (Debian tshark)")


def test_clean_l2tp_capture_passes_and_counts_what_crossed(captures):
    v = J.judge(captures / "jnetpcap_test-l2tp.pcap",
                l2tp={"SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN", "CDN", "StopCCN"},
                ppp={"lcp", "pap", "ipcp", "ip"})
    assert v.frames == 168 and v.l2tp["ICRQ"] == 1 and v.ppp["pap"] == 2, v
    assert not v.malformed and not v.errors


def test_malformed_frames_fail_with_frame_and_expert_message(captures):
    with pytest.raises(AssertionError) as e:
        J.judge(captures / "ndpi_fuzz-2020-02-16-11740.pcap")
    text = str(e.value)
    assert "malformed: frame 1 [eth:ethertype:ip:udp:radius]" in text, text[:500]
    assert "AVP too short: length 0 < 2" in text, text[:500]


def test_expectations_not_met_fail(captures):
    with pytest.raises(AssertionError, match=r"L2TP message types expected but not seen: \['OCRQ'\]"):
        J.judge(captures / "jnetpcap_test-l2tp.pcap", l2tp={"OCRQ"})
    with pytest.raises(AssertionError, match=r"PPP protocols seen but not expected: \['ccp', 'ip', 'ipcp', 'pap'\]"):
        J.judge(captures / "jnetpcap_test-l2tp.pcap", ppp={"lcp"}, only=True)
    with pytest.raises(AssertionError, match=r"RADIUS codes expected but not seen: \[2\]"):
        J.judge(captures / "arkime_radius.pcap", radius={2})


def test_several_pcaps_in_one_pass_credit_each_frame_to_its_own_pcap(captures, tmp_path):
    import shutil as sh
    l2tp, radius = tmp_path / "core.pcap", tmp_path / "aaa.pcap"
    sh.copy(captures / "jnetpcap_test-l2tp.pcap", l2tp)
    sh.copy(captures / "ndpi_fuzz-2020-02-16-11740.pcap", radius)
    empty = tmp_path / "site.pcap"
    empty.write_bytes(l2tp.read_bytes()[:24])        # a link that carried nothing in the test
    alone = {k: J.decode(p) for k, p in (("core", l2tp), ("aaa", radius))}
    together = J.decode_links({"core": l2tp, "aaa": radius, "site": empty})
    for k in alone:
        assert (together[k].frames, together[k].l2tp, together[k].ppp, together[k].radius) == \
               (alone[k].frames, alone[k].l2tp, alone[k].ppp, alone[k].radius), k
        # stateful dissectors (RADIUS retransmission, EAP reassembly) see the other pcap's frames
        # too, so the fuzzed capture's later malformed frames may differ; its first one may not
        assert bool(together[k].malformed) == bool(alone[k].malformed), k
        if alone[k].malformed:
            assert together[k].malformed[0].describe() == alone[k].malformed[0].describe(), k
    assert together["site"].frames == 0
    with pytest.raises(AssertionError) as e:
        J.judge_links({"core": l2tp, "aaa": radius}, {"core": {"l2tp": {"OCRQ"}}})
    text = str(e.value)
    assert "aaa.pcap" in text and "malformed: frame 1 [eth:ethertype:ip:udp:radius]" in text, text[:800]
    assert "L2TP message types expected but not seen: ['OCRQ']" in text, text[:800]


def test_only_from_counts_the_named_senders_only(captures):
    v = J.decode(captures / "ndpi_fuzz-2020-02-16-11740.pcap")
    src = v.malformed[0].src
    assert src and J.problems(v, only_from={src})
    assert not J.problems(v, only_from={"192.0.2.250"}), "malformed frames of other senders are not the DUT's"


def test_a_trigger_to_the_discard_port_from_a_tzsp_source_port_is_not_malformed(tmp_path):
    """A dial-out trigger (UDP to port 9) from ephemeral port 37008 — TZSP's port — was decoded as a
    malformed TZSP frame and failed a lab test at random; port 9 is now decoded as data."""
    import struct
    payload = bytes(range(64))
    udp = struct.pack("!HHHH", 37008, 9, 8 + len(payload), 0) + payload
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 1, 0, 64, 17, 0,
                     bytes([203, 0, 113, 10]), bytes([10, 10, 2, 1]))
    frame = b"\x02" * 6 + b"\x04" * 6 + b"\x08\x00" + ip + udp
    pcap = tmp_path / "trigger.pcap"
    pcap.write_bytes(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 65535, 1)
                     + struct.pack("<IIII", 0, 0, len(frame), len(frame)) + frame)
    v = J.judge(pcap)
    assert v.frames == 1 and not v.malformed and not v.errors, v
