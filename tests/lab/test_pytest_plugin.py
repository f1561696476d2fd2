"""dlab.pytest_plugin and dlab.control_api in the real dial-out lab (default topology, FreeRADIUS,
lnsd and the emulated peers): the fixtures reach every daemon, lnsd's event stream carries a real
dial-out transition, wait_for's timeout shows what happened, the radius fixture talks to
FreeRADIUS, scripted_lac lives in the lac namespace and the per-test pcap cutter keeps only its window."""
from __future__ import annotations

import pytest

from dlab.control_api import EventTimeout
from dlab.pytest_plugin import PcapCutter
from dlab.wait import wait_for

UNKNOWN = "default/10.10.0.0/16/10.10.2.1"   # in the dial-out prefix, but the home server has no such user


@pytest.mark.req("LAB.pytest-plugin", "LAB.control-api")
def test_daemon_fixtures_reach_every_daemon(lab, lns, lac, cpe, isdn):
    for d in (lns, lac, cpe, isdn):
        assert d.streaming, f"{d.name}: the fixture must open the event stream"
        assert "help" in d.commands(), f"{d.name}: help not listed"
    targets = {(t["virtual_router"], t["domain"]) for t in lns.show("l2tp dial-out target")}
    assert targets == {("default", "L2TP-dial-out.de.dt"), ("vr-b", "L2TP-dial-out.vr-b.example")}, \
        f"lnsd's targets are not the configured ones: {targets}"
    assert lac.show("state"), "lac-emu answered show state with nothing"
    assert lab.configs["lnsd"]["local-address"] == "198.51.100.1", "lab.configs must hold the configs as started"


@pytest.mark.dialout
@pytest.mark.req("LAB.control-api", "T74.inhibited")
def test_wait_for_returns_lnsd_events_and_timeout_lists_them(lab, lns):
    lab.exec("home", ["ping", "-c", "1", "-W", "1", "10.10.2.1"], check=False)
    ev = lns.wait_for(entity="dialout.session", id=UNKNOWN, to="inhibited", within=15)
    assert ev["cause"] == "access-reject", f"home RADIUS rejects 10.10.2.1: {ev}"
    with pytest.raises(EventTimeout) as ei:
        lns.wait_for(entity="dialout.session", id=UNKNOWN, to="inService", within=0.5, since=0)
    assert "-> inhibited" in str(ei.value) and UNKNOWN in str(ei.value), \
        f"the timeout message must list the session's events: {ei.value}"
    lns.request("l2tp dial-out session reset", id=UNKNOWN)


@pytest.mark.radius
@pytest.mark.req("LAB.pytest-plugin", "LAB.freeradius")
def test_radius_fixture_knows_the_servers_and_asks_them(radius):
    assert radius["home"].address == "192.0.2.10" and radius["lns"].address == "192.0.2.11", list(radius)
    assert "10.10.1.1@L2TP-dial-out.de.dt" in radius.users("home"), radius.users("home")
    res = radius.request("home", {"User-Name": "10.10.1.1@L2TP-dial-out.de.dt", "Service-Type": "Outbound-User"})
    assert res["received"]["code"] == "Access-Accept", f"radclient said: {res}"
    with pytest.raises(KeyError, match="no RADIUS server 'nope'"):
        radius["nope"]


@pytest.mark.l2tp
@pytest.mark.req("LAB.pytest-plugin")
def test_scripted_lac_talks_to_lnsd_from_the_lac_namespace(lab, scripted_lac):
    from dlab.proto import L2TP
    assert scripted_lac.peer == ("198.51.100.1", 1701), scripted_lac.peer
    scripted_lac.send(L2TP.sccrq(assigned_tunnel_id=77, host_name="scripted-lac"))
    answer = scripted_lac.expect(lambda m: m.is_control and not m.is_zlb, within=5)
    assert answer.message_name in ("SCCRP", "StopCCN"), f"lnsd answered an SCCRQ with {answer.message_name}"
    assert answer.tunnel_id == 77, f"lnsd must address our Assigned Tunnel ID 77 (RFC 2661 §3.1): {answer.tunnel_id}"
    if answer.message_name == "SCCRP":
        scripted_lac.send(L2TP.stopccn(assigned_tunnel_id=77, result=1))


@pytest.mark.req("LAB.pytest-plugin", "LAB.capture")
def test_pcap_cutter_keeps_only_its_window(lab, radius, tmp_path):
    from dlab.proto import read_pcap
    radius.request("home", {"User-Name": "before@example", "Service-Type": "Outbound-User"})
    cut = PcapCutter(lab.pcaps["aaa"])
    start = cut.mark()
    radius.request("home", {"User-Name": "10.10.1.1@L2TP-dial-out.de.dt", "Service-Type": "Outbound-User"})
    out = tmp_path / "aaa.pcap"

    def window():
        cut.write(start, cut.mark(), out)
        return [f for f in read_pcap(str(out)) if f["protocol"] == "radius-auth"]
    frames = wait_for(lambda: len(window()) >= 2 and window(), 5, "request and answer in the cut pcap")
    names = [f["packet"].get("User-Name") for f in frames if f["packet"] is not None and f["packet"].code == 1]
    assert names == ["10.10.1.1@L2TP-dial-out.de.dt"], f"the cut must hold only this window's request: {names}"


INNER = '''
import pytest

def test_first(radius):
    radius.request("home", {"User-Name": "first@inner", "Service-Type": "Outbound-User"})

def test_second(lab):
    assert lab.exec("lns", ["true"]).returncode == 0
'''


@pytest.mark.req("LAB.pytest-plugin", "LAB.capture")
def test_plugin_writes_a_pcap_per_test_per_link(pytester, monkeypatch):
    """A pytest run of two tests on one lab: each test gets one pcap per link of the topology, named
    in the JUnit XML, and holds only its own packets (the first test's RADIUS exchange is in its
    aaa.pcap, not in the second's)."""
    import xml.etree.ElementTree as ET

    import dlab
    from dlab.dialout_lab import NotBuilt, build_dir
    from dlab.proto import read_pcap
    try:
        bdir = build_dir()
    except NotBuilt as e:
        pytest.skip(str(e))
    # The inner run's working directory is pytester's: absolute import paths.
    from pathlib import Path
    paths = [str(Path(p).resolve().parent) for p in dlab.__path__] + [str(bdir.resolve() / "bindings")]
    monkeypatch.setenv("PYTHONPATH", ":".join(dict.fromkeys(paths)))
    monkeypatch.setenv("DL_BUILD_DIR", str(bdir))
    pytester.makeconftest('pytest_plugins = ["dlab.pytest_plugin"]\n')
    pytester.makepyfile(test_inner=INNER)
    res = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--junitxml=inner.xml", "-o", "junit_family=xunit2")
    assert res.ret == 0, "\n".join(res.outlines[-30:])
    cases = {c.get("name"): {p.get("name"): p.get("value") for p in c.iter("property")}
             for c in ET.parse(pytester.path / "inner.xml").getroot().iter("testcase")}
    links = {"leased", "leased-b", "core", "aaa", "site"}
    for name in ("test_first", "test_second"):
        assert {k.split(":", 1)[1] for k in cases[name] if k.startswith("pcap:")} == links, cases[name]

    def users(case):
        frames = read_pcap(cases[case]["pcap:aaa"])
        return [f["packet"].get("User-Name") for f in frames if f["protocol"] == "radius-auth" and f["packet"]
                and f["packet"].code == 1]
    assert users("test_first") == ["first@inner"], f"test_first's aaa.pcap: {users('test_first')}"
    assert users("test_second") == [], f"test_second's aaa.pcap holds another test's packets: {users('test_second')}"
