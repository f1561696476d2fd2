"""The default lab (docs/architecture.md "The default lab"): namespaces, links, addresses, and the real FreeRADIUS servers."""
import json
import subprocess

import pytest

from dlab import freeradius, netns


def root_state() -> tuple[list, list]:
    links = json.loads(subprocess.run(["ip", "-j", "link"], capture_output=True, text=True).stdout)
    routes = json.loads(subprocess.run(["ip", "-j", "route"], capture_output=True, text=True).stdout)
    return sorted(l["ifname"] for l in links), routes


ROOT_BEFORE = root_state()


@pytest.mark.lifecycle
@pytest.mark.req("LAB.namespaces")
def test_every_host_has_its_namespace(default_lab):
    present = set(netns.list_lab_namespaces())
    for host in default_lab.topo.hosts:
        assert f"dl-{default_lab.runid}-{host}" in present, f"namespace of {host} missing"


@pytest.mark.lifecycle
@pytest.mark.req("LAB.namespaces")
def test_nothing_added_to_root_namespace(default_lab):
    assert root_state() == ROOT_BEFORE, "the lab changed the root namespace's links or routes"


@pytest.mark.lifecycle
@pytest.mark.req("LAB.freeradius")
def test_freeradius_runs_as_freerad_inside_radius_namespace(default_lab):
    rad = [p for p in default_lab.procs if p.name.startswith("radius-")]
    assert len(rad) == len(default_lab.topo.radius), "one FreeRADIUS per topology server"
    ns_pids = set(netns.pids(default_lab.ns("radius")))
    for p in rad:
        assert p.alive(), f"{p.name} exited:\n{p.log_text()[-2000:]}"
        # the daemon is a child of `ip netns exec` (same pid: exec replaces it)
        assert p.pid in ns_pids, f"{p.name} (pid {p.pid}) is not in the radius namespace"
        uid = next(int(l.split()[1]) for l in open(f"/proc/{p.pid}/status") if l.startswith("Uid:"))
        assert uid != 0, f"{p.name} did not drop root privileges"



@pytest.mark.reachability
@pytest.mark.req("LAB.namespaces")
def test_neighbours_reach_each_other(default_lab):
    failures = [f"{h} -> {p} ({a})" for h, p, a in default_lab.topo.neighbours()
                if not default_lab.ping(h, a)]
    assert not failures, f"unreachable neighbours: {failures}"


@pytest.mark.reachability
@pytest.mark.req("LAB.namespaces")
def test_remote_site_not_reachable_before_dial_out(default_lab):
    assert not default_lab.ping("home", "10.10.1.1"), \
        "home reached 10.10.1.1 with no dial-out: the lab leaks a route to the remote site"


@pytest.mark.reachability
@pytest.mark.req("LAB.namespaces")
def test_lab_hosts_reach_nothing_outside(default_lab):
    cp = default_lab.exec("lns", ["ip", "-j", "route"], check=True)
    routes = json.loads(cp.stdout)
    assert not [r for r in routes if r["dst"] == "default"], f"lns has a default route: {routes}"


def accept_attrs(res) -> dict:
    return {k: v for k, v in res["received"]["attributes"]}


@pytest.mark.radius
@pytest.mark.parametrize("user", ["0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt",
                                  "10.10.1.1@L2TP-dial-out.de.dt"], ids=["with-rd", "without-rd"])
@pytest.mark.req("LAB.freeradius")
def test_dialout_access_request_gets_table75_accept(default_lab, user):
    res = freeradius.radius_request(default_lab, "home", {"User-Name": user, "Service-Type": "Outbound-User"})
    assert res["received"]["code"] == "Access-Accept", f"radclient said: {res}"
    a = accept_attrs(res)
    expected = {
        "Service-Type": "Outbound-User",
        "Tunnel-Type:1": "L2TP",
        "Tunnel-Medium-Type:1": "IPv4",
        "Tunnel-Server-Endpoint:1": "198.51.100.2",
        "ERX-Dial-Out-Number": "5551001",
        "ERX-PPP-Username": "lns-home",
        "ERX-PPP-Password": "lns-home-pass",
        "ERX-PPP-Auth-Protocol": "CHAP",
        "ERX-Minimum-BPS": "56000",
        "ERX-Maximum-BPS": "64000",
        "ERX-Bearer-Type": "Digital",
    }
    for k, v in expected.items():
        assert a.get(k) == v, f"Access-Accept attribute {k}: expected {v!r}, got {a.get(k)!r} in {a}"
    assert a.get("Tunnel-Password:1") == "lac-secret", "Tunnel-Password did not decrypt to the configured secret"
    # BlastRADIUS (CVE-2024-3596): lnsd requires a Message-Authenticator in every Access-Accept.
    assert "Message-Authenticator" in a, f"the Access-Accept carries no Message-Authenticator: {a}"


@pytest.mark.radius
@pytest.mark.req("LAB.freeradius")
def test_dialout_request_without_outbound_service_type_is_rejected(default_lab):
    res = freeradius.radius_request(default_lab, "home", {"User-Name": "10.10.1.1@L2TP-dial-out.de.dt",
                                                    "Service-Type": "Framed-User"})
    assert res["received"]["code"] == "Access-Reject", f"expected a reject: {res}"


@pytest.mark.radius
@pytest.mark.req("LAB.freeradius")
def test_unknown_dialout_target_is_rejected(default_lab):
    res = freeradius.radius_request(default_lab, "home", {"User-Name": "10.10.9.9@L2TP-dial-out.de.dt",
                                                    "Service-Type": "Outbound-User"})
    assert res["received"]["code"] == "Access-Reject", f"expected a reject: {res}"


@pytest.mark.radius
@pytest.mark.req("LAB.freeradius")
def test_lns_radius_authenticates_cpe_and_returns_framed_route(default_lab):
    ok = freeradius.radius_request(default_lab, "lns", {"User-Name": "cpe-remote", "User-Password": "cpe-pass"})
    assert ok["received"]["code"] == "Access-Accept", f"PAP user rejected: {ok}"
    a = accept_attrs(ok)
    assert a.get("Framed-Route") == "10.10.1.0/24 198.18.0.2 1", a
    assert a.get("Framed-IP-Address") == "198.18.0.2", a
    bad = freeradius.radius_request(default_lab, "lns", {"User-Name": "cpe-remote", "User-Password": "wrong"})
    assert bad["received"]["code"] == "Access-Reject", f"wrong password accepted: {bad}"


@pytest.mark.radius
@pytest.mark.req("LAB.freeradius")
def test_vr_b_home_server_answers_for_its_own_domain(default_lab):
    res = freeradius.radius_request(default_lab, "home-b", {"User-Name": "10.10.1.1@L2TP-dial-out.vr-b.example",
                                                      "Service-Type": "Outbound-User"})
    assert res["received"]["code"] == "Access-Accept", res
    assert accept_attrs(res)["Tunnel-Server-Endpoint:1"] == "198.51.100.3"
    other = freeradius.radius_request(default_lab, "home-b", {"User-Name": "10.10.1.1@L2TP-dial-out.de.dt",
                                                        "Service-Type": "Outbound-User"})
    assert other["received"]["code"] == "Access-Reject", "vr-b's server must not know vr default's domain"


@pytest.mark.radius
@pytest.mark.req("LAB.freeradius")
def test_wrong_shared_secret_gets_no_answer(default_lab):
    srv = default_lab.topo.radius["home"]
    from dlab import freeradius
    cp = default_lab.exec("lns", freeradius.radclient_argv(default_lab.radius_conf["home"], srv.address,
                                                           srv.auth_port, "auth", "not-the-secret"),
                          input='User-Name = "10.10.1.1@L2TP-dial-out.de.dt"\nService-Type = Outbound-User\n',
                          check=False, timeout=20)
    # FreeRADIUS silently drops a request whose Message-Authenticator/secret does not verify, or
    # answers with an authenticator radclient cannot verify: either way no valid Access-Accept.
    assert "Received Access-Accept" not in cp.stdout, cp.stdout


@pytest.mark.lifecycle
@pytest.mark.req("LAB.capture")
def test_every_link_is_captured_and_readable_by_tshark(default_lab):
    from dlab.wait import wait_for
    assert set(default_lab.pcaps) == {lk.name for lk in default_lab.topo.links}
    freeradius.radius_request(default_lab, "home", {"User-Name": "10.10.1.1@L2TP-dial-out.de.dt",
                                              "Service-Type": "Outbound-User"})

    def accept_in_pcap():
        cp = subprocess.run(["tshark", "-n", "-r", str(default_lab.pcaps["aaa"]), "-Y", "radius.code == 2",
                             "-T", "fields", "-e", "radius.User_Name", "-e", "radius.Tunnel_Server_Endpoint"],
                            capture_output=True, text=True)
        return cp.stdout.strip()
    seen = wait_for(accept_in_pcap, 10, "an Access-Accept in the aaa link capture")
    assert "198.51.100.2" in seen, f"tshark decoded: {seen!r}"
