"""./lab replay against lnsd in a fresh lab (dlab.replay_run.replay_in_lab): the public capture of a
Microsoft LAC talking to a Cisco LNS (empty tunnel secret, PAP) brings the tunnel, the incoming
call and PPP up at lnsd, and the report lists every way lnsd answered differently, each with a
reason; bad input ends with exit status 2 and nothing left of the lab.

The capture is ../shared/captures/jnetpcap_test-l2tp.pcap (see its README for provenance)."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dlab import netns, replay, tshark_judge
from dlab import replay_cli
from dlab import replay_run as R


@pytest.fixture(scope="module")
def captures_dir():
    from dlab.dialout_lab import REPO, build_dir_or_skip
    build_dir_or_skip()
    path = REPO.parent / "shared" / "captures"
    if not path.is_dir():
        pytest.skip(f"{path} not present")
    return path


@pytest.fixture(scope="module")
def jnetpcap(captures_dir):
    return captures_dir / "jnetpcap_test-l2tp.pcap"


@pytest.fixture(scope="module")
def cisco_report(jnetpcap):
    return R.replay_in_lab(replay.load(jnetpcap), secret="")


@pytest.mark.req("REPLAY.lab")
def test_cisco_capture_brings_tunnel_call_and_ppp_up_at_lnsd(cisco_report):
    rep = cisco_report
    at = rep.stats["before_teardown"]
    assert [t["state"] for t in at["tunnels"]] == ["established"], at
    (ppp,) = at["ppp"]
    assert (ppp["user"], ppp["lcp"], ppp["ipcp"], ppp["we-authenticate"]) == ("markw", "Opened", "Opened", "PAP"), ppp
    assert ppp["peer-ip"] == "172.16.10.2"    # the address the Cisco LNS gave, put into FreeRADIUS
    names = {(i.name, i.verdict) for i in rep.items}
    assert {("ICRP", "matched"), ("PPP PAP Ack", "matched"), ("PPP LCP Terminate-Ack", "matched")} <= names, rep.text()
    if rep.pcap and shutil.which("tshark"):   # tshark judges the replay's pcap (dlab.tshark_judge)
        tshark_judge.judge(rep.pcap, l2tp={"SCCRQ", "SCCRP", "SCCCN", "ICRQ", "ICRP", "ICCN"}, ppp={"lcp", "pap", "ipcp"})
    assert rep.stats["lnsd"] == {"mode": "lcp-renegotiation", "authentication": "pap", "hide_avps": False,
                                "radius_users": ["markw"]}


@pytest.mark.req("REPLAY.lab", "REPLAY.report")
def test_every_difference_from_the_cisco_lns_has_a_reason(cisco_report):
    rep = cisco_report
    diffs = [(i.name, d) for i in rep.items for d in i.differences]
    assert diffs and all(d.reason for _, d in diffs)
    counted = {(n, d.field) for n, d in diffs if not d.ignored}
    assert ("SCCRP", "Challenge") in counted           # the Cisco LNS challenged with the empty secret, lnsd does not
    assert ("SCCRP", "Receive Window Size") in counted
    assert all(i.reason for i in rep.items if i.verdict in ("missing", "extra", "skipped", "out-of-order"))
    assert rep.exit_status == R.EXIT_DIFFERENT and not rep.errors
    doc = json.loads((rep.pcap and open(rep.pcap.replace("replay.pcap", "report.json")).read()))
    assert doc["exit_status"] == 1 and doc["items"]
    from dlab import proto as P
    live = P.read_pcap(rep.pcap)
    assert {f["packet"].message_name for f in live if f["packet"] is not None} >= {"SCCRQ", "SCCRP", "ICRQ", "ICRP", "data"}


@pytest.mark.req("REPLAY.lab", "REPLAY.rewrite")
def test_tunnel_secret_hidden_avps_and_chap_against_lnsd(tmp_path):
    """A synthetic capture (tests/unit_py/test_replay.py build_capture: Challenges both ways, hidden
    Calling Number in ICRQ and hidden Assigned Session ID in ICRP, LCP with CHAP) against lnsd with
    the tunnel secret and hide-avps: lnsd's Challenge Response checks out, its hidden ICRP unhides,
    the CHAP Response recomputed with --ppp-secret is accepted by FreeRADIUS through lnsd."""
    import sys
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "unit_py"))
    from test_replay import PPP_SECRET, SECRET, build_capture
    conv = replay.load(build_capture(tmp_path / "c.pcap", hide_lns=True), secret=SECRET)
    rep = R.replay_in_lab(conv, secret=SECRET, ppp_secret=PPP_SECRET)
    assert not rep.errors, rep.text()
    assert rep.stats["lnsd"]["hide_avps"] is True and rep.stats["lnsd"]["authentication"] == "chap"
    at = rep.stats["before_teardown"]
    assert [t["state"] for t in at["tunnels"]] == ["established"], at
    (ppp,) = at["ppp"]
    assert (ppp["user"], ppp["lcp"], ppp["we-authenticate"]) == ("bob", "Opened", "CHAP-MD5"), ppp
    v = {i.name: i for i in rep.items if i.frame is not None}
    assert v["ICRP"].verdict == "matched" and v["PPP CHAP Success"].verdict == "matched", rep.text()
    sccrp = {d.field: d for d in v["SCCRP"].differences}
    assert "Challenge" in sccrp and sccrp["Challenge"].ignored        # both challenge: only the values differ


@pytest.mark.req("REPLAY.bad-input")
@pytest.mark.parametrize("name", sorted(p.name for p in (Path(__file__).resolve().parents[2].parent / "shared" / "captures").glob("*.pcap*")
                                         if p.name != "jnetpcap_test-l2tp.pcap"))
def test_bad_input_exit_2_and_nothing_left(captures_dir, name, capsys):
    """Every other shared capture: no complete control connection (malformed AVPs, a call picked up
    mid-way, RADIUS only): rejected
    before any lab is made; a hidden AVP without --secret: the lab is made, the replay stops, the lab
    is torn down (no namespace of its run is left)."""
    import argparse
    p = argparse.ArgumentParser()
    replay_cli.add_arguments(p)
    rc = replay_cli.run(p.parse_args([str(captures_dir / name), "--json"]))
    out = json.loads(capsys.readouterr().out)
    assert rc == 2 and out["exit_status"] == 2, out
    assert out["errors"] and out["skipped"], out
    lab = (out.get("stats") or {}).get("lab")
    if name == "bngblaster_l2tp_sccrq.pcap":
        assert lab and "give --secret" in out["errors"][0], out
    if lab:
        assert not [n for n in netns.list_lab_namespaces() if n.startswith(f"dl-{lab['runid']}-")]


@pytest.mark.req("REPLAY.lab", "REPLAY.report")
def test_lns_radius_request_compared_attribute_by_attribute(jnetpcap, tmp_path):
    """The capture plus the LNS's own Access-Request for the PAP user (as a Cisco LNS sends it, RFC
    2865 §5): lnsd's Access-Request on the lab's aaa link is compared with it attribute by attribute."""
    from dlab import proto as P
    frames = [{k: f[k] for k in ("src", "dst", "sport", "dport", "payload", "time")}
              for f in P.read_pcap(str(jnetpcap)) if f["protocol"] != "ppp"]
    pap_at = next(f["time"] for f in P.read_pcap(str(jnetpcap)) if f["protocol"] == "l2tp" and f["packet"] is not None
                  and f["packet"].is_data and b"markw" in f["payload"])
    req = P.Radius.build(1, 42, {"User-Name": "markw", "Service-Type": "Framed-User", "Framed-Protocol": "PPP",
                                 "NAS-IP-Address": "192.168.98.222", "NAS-Port-Type": "Virtual"})
    req.add_user_password("qwerty", "cisco-secret")
    frames.append({"src": "192.168.98.222", "dst": "192.168.98.5", "sport": 1645, "dport": 1812,
                   "payload": req.to_bytes(), "time": pap_at + 0.001})
    frames.sort(key=lambda f: f["time"])
    cap = tmp_path / "with-radius.pcap"
    P.write_pcap(str(cap), frames)
    rep = R.replay_in_lab(replay.load(cap), secret="")
    (item,) = [i for i in rep.items if i.name == "RADIUS Access-Request"]
    assert item.verdict in ("matched", "differed"), rep.text()
    fields = {d.field: d for d in item.differences}
    assert "User-Name" not in fields, fields                   # lnsd asked for the same user
    assert fields["NAS-IP-Address"].ignored and fields["Identifier"].ignored
    assert all(d.reason for d in item.differences)
