"""Every golden capture of pcaps/ (pcaps/golden.yaml) replayed against the current lnsd in a fresh
lab must match in full: every message lnsd had to send is there, in order, with only the fields
the default rules name as legitimately different (docs/replay.md)."""
from __future__ import annotations

import pytest
import yaml

from dlab import replay
from dlab import replay_run as R
from dlab.dialout_lab import REPO

GOLDEN = yaml.safe_load((REPO / "pcaps" / "golden.yaml").read_text())


@pytest.mark.req("REPLAY.golden")
@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_golden_capture_replays_with_a_full_match(name):
    from dlab.dialout_lab import build_dir_or_skip
    build_dir_or_skip()
    g = GOLDEN[name]
    conv = replay.load(REPO / "pcaps" / name, secret=g.get("secret"))
    rep = R.replay_in_lab(conv, secret=g.get("secret"), ppp_secret=g.get("ppp_secret"))
    assert rep.exit_status == R.EXIT_OK, rep.text()
    assert not [i for i in rep.items if i.verdict in ("missing", "differed", "extra")], rep.text()
    assert any(i.name.startswith("RADIUS Access-Request") and i.verdict == "matched" for i in rep.items), rep.text()
    judged(rep)


def judged(rep) -> None:
    """tshark judges the replay's pcap (dlab.tshark_judge): no malformed frame, no expert error
    (what crossed is the report's business: a denied dial-out has no tunnel at all)."""
    import shutil

    from dlab import tshark_judge
    if rep.pcap and shutil.which("tshark"):
        tshark_judge.judge(rep.pcap)


@pytest.mark.req("REPLAY.golden", "REPLAY.lab")
def test_golden_capture_with_the_captured_radius_replies():
    """--radius capture: lnsd's RADIUS is a scripted server answering with the capture's
    Access-Accept / Accounting-Responses re-signed with the replay's secret; still a full match."""
    from dlab.dialout_lab import build_dir_or_skip
    build_dir_or_skip()
    name = "incoming-proxy.pcap"
    g = GOLDEN[name]
    conv = replay.load(REPO / "pcaps" / name, secret=g["secret"])
    rep = R.replay_in_lab(conv, secret=g["secret"], ppp_secret=g.get("ppp_secret"), radius="capture",
                          radius_secret="replay-secret")
    assert rep.exit_status == R.EXIT_OK, rep.text()
    served = rep.stats["radius_capture"]
    assert any("Access-Request" in h and "answer Access-Accept" in h for h in served), served
    assert any("Accounting-Request" in h for h in served), served
    judged(rep)


@pytest.mark.req("REPLAY.golden", "REPLAY.dialout")
def test_dialout_golden_with_the_captured_home_reply_re_signed():
    """--radius capture on a dial-out: lnsd's home Access-Request is answered with the captured
    Access-Accept re-signed with the home server's secret, its Tunnel-Password decrypted with it and
    encrypted again for lnsd's request (RFC 2868 §3.5): lnsd authenticates the tunnel with it (the
    replayed LAC's Challenge Response checks out) and the call reaches inService."""
    from dlab.dialout_lab import build_dir_or_skip
    build_dir_or_skip()
    name = "dialout-basic.pcap"
    g = GOLDEN[name]
    conv = replay.load(REPO / "pcaps" / name, secret=g["secret"])
    rep = R.replay_in_lab(conv, secret=g["secret"], ppp_secret=g["ppp_secret"], radius="capture",
                          radius_secret="home-secret")
    assert rep.exit_status == R.EXIT_OK, rep.text()
    served = rep.stats["radius_capture"]
    assert sum("answer Access-Accept" in h for h in served) == 2, served    # the home and the CPE's Access-Request
    (s,) = [x for x in rep.stats["before_teardown"]["dialout"] if x["state"] == "inService"]
    assert s["session"].endswith("/" + conv.dialouts[0].destination), s


@pytest.mark.req("REPLAY.dialout")
def test_dialout_trigger_to_another_destination():
    """--trigger: lnsd is triggered towards another address of the target; the home server knows the
    User-Name lnsd builds for it, the call goes as captured, and the only counted difference is that
    User-Name (JunosE "L2TP Dial-Out", "Access-Request Message")."""
    from dlab.dialout_lab import build_dir_or_skip
    build_dir_or_skip()
    name = "dialout-busy.pcap"
    g = GOLDEN[name]
    conv = replay.load(REPO / "pcaps" / name, secret=g["secret"])
    rep = R.replay_in_lab(conv, secret=g["secret"], trigger="10.10.99.1")
    counted = [(i.name, d.field, d.dut) for i in rep.items for d in i.differences if not d.ignored]
    assert counted == [("RADIUS Access-Request", "User-Name", "0.0.0.0:65000/10.10.99.1@L2TP-dial-out.de.dt")], rep.text()
    assert not [i for i in rep.items if i.verdict in ("missing", "extra")] and rep.exit_status == R.EXIT_DIFFERENT


@pytest.mark.req("REPLAY.golden", "REPLAY.dialout")
@pytest.mark.parametrize("radius", ["freeradius", "capture"])
def test_radius_timeout_golden_counts_the_retransmissions(radius):
    """Table 75's RADIUS timeout (JunosE "L2TP Dial-Out"): the captured home server never answered;
    the lab's stays silent too (FreeRADIUS Do-Not-Respond, or the scripted server without a
    captured reply), lnsd retransmits its Access-Request at the captured interval as often as the
    captured LNS did (RFC 5080 §2.2.1) and opens no tunnel."""
    from dlab.dialout_lab import build_dir_or_skip
    build_dir_or_skip()
    name = "dialout-deny-radius-timeout.pcap"
    conv = replay.load(REPO / "pcaps" / name)
    (x,) = conv.dialouts
    assert x.outcome == "no reply captured" and len(x.radius.retransmissions) == 3, conv.describe()
    rep = R.replay_in_lab(conv, radius=radius, radius_secret="home-secret")
    assert rep.exit_status == R.EXIT_OK, rep.text()
    lines = [(i.verdict, i.frame, i.name) for i in rep.items]
    assert lines == [("sent", None, "trigger ICMP Echo to 10.10.58.1"), ("matched", 1, "RADIUS Access-Request")] + \
        [("matched", k, "RADIUS Access-Request retransmission") for k in (2, 3, 4)], rep.text()
    assert rep.stats["lnsd"]["radius_timeout"] == "500ms", rep.stats["lnsd"]
    if radius == "capture":
        served = rep.stats["radius_capture"]
        assert len(served) == 4 and all(h.endswith(": dropped") for h in served), served
    judged(rep)


@pytest.mark.req("REPLAY.dialout", "CAPTURE.read")
def test_captured_tcp_syn_triggers_the_dialout(tmp_path):
    """A dial-out capture that holds its trigger (here a TCP SYN to the destination, put in front of
    dialout-busy.pcap's frames): that packet, not the ICMP Echo stand-in, is sent from the lab's home
    host (addresses rewritten, checksums recomputed) and lnsd dials out on it: the replay matches."""
    from dlab import proto as P
    from dlab.dialout_lab import build_dir_or_skip
    build_dir_or_skip()
    g = GOLDEN["dialout-busy.pcap"]
    cap = P.read_pcap(str(REPO / "pcaps" / "dialout-busy.pcap"))
    dest = replay.analyse(cap).dialouts[0].destination
    syn = P.TriggerInjector.tcp_syn("172.16.5.5", dest, 40000, 443, isn=777)
    path = tmp_path / "busy-with-trigger.pcap"
    P.write_pcap(str(path), [{"ip": syn, "time": cap[0]["time"] - 0.01}] +
                 [{k: f[k] for k in ("src", "dst", "sport", "dport", "payload", "time")} for f in cap])
    conv = replay.load(path, secret=g["secret"])
    assert conv.dialouts[0].trigger["index"] == 1, conv.describe()
    rep = R.replay_in_lab(conv, secret=g["secret"], ppp_secret=g["ppp_secret"])
    assert rep.exit_status == R.EXIT_OK, rep.text()
    first = rep.items[0]
    assert (first.verdict, first.frame, first.name) == ("sent", 1, f"trigger TCP to {dest}"), rep.text()
    live = P.read_pcap(rep.pcap)
    (sent,) = [f for f in live if f["protocol"] == "ipv4"]
    assert (sent["src"], sent["dst"], sent["sport"], sent["dport"]) == (R.LAB_HOME, dest, 40000, 443)
