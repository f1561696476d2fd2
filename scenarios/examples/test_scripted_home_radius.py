"""A scenario with a scripted home RADIUS server (docs/scenarios.md): the test, not FreeRADIUS,
decides each answer to lnsd's dial-out Access-Request (JunosE "L2TP Dial-Out" Table 75): reject, accept after a
delay, or a spoofed answer lnsd must discard (RFC 2865 §3), retransmitting the request (RFC 5080
§2.2.1) until it gives up (cause radius-timeout, about 12 s: 3 s x 4 sends)."""
import pytest

from dlab.proto import Radius, RadiusReply
from dlab.wait import wait_for

KEY = "default/10.10.0.0/16/10.10.1.1"
USER = "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt"

pytestmark = [pytest.mark.scenario, pytest.mark.aaa, pytest.mark.lab_config(scripted_radius=["home"])]


def table75_accept(req: Radius, secret: str) -> Radius:
    """The Access-Accept FreeRADIUS would send for the site of JunosE "L2TP Dial-Out"'s example (scenarios/topologies/default.yaml)."""
    return Radius.access_accept(req.identifier, [
        ("Service-Type", "Outbound-User"), ("Tunnel-Type", "L2TP", 1), ("Tunnel-Medium-Type", "IPv4", 1),
        ("Tunnel-Server-Endpoint", "198.51.100.2", 1), ("Tunnel-Password", "lac-secret", 1),
        ("ERX-Dial-Out-Number", "5551001"), ("ERX-PPP-Username", "lns-home"),
        ("ERX-PPP-Password", "lns-home-pass"), ("ERX-PPP-Auth-Protocol", "CHAP")],
        secret=secret, request_authenticator=req.authenticator)


@pytest.fixture(autouse=True)
def fresh_session(lab, lns):
    """Each test starts with no dial-out session for KEY (reset leaves it dormant)."""
    yield
    try:
        lns.request("l2tp dial-out session reset", id=KEY)
    except Exception:  # noqa: BLE001 - no such session: nothing to reset
        pass


def trigger(lab):
    lab.exec("home", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)


def test_reject_inhibits_the_session(lab, lns, scripted_radius):
    scripted_radius.handler = lambda req: Radius.access_reject(req.identifier, {"Reply-Message": "not today"})
    trigger(lab)
    ev = lns.wait_for(entity="dialout.session", id=KEY, to="inhibited", within=10)
    assert (ev["from"], ev["cause"]) == ("authenticating", "access-reject"), ev
    req = scripted_radius.requests[0]
    assert req.get("User-Name") == USER and req.get("Service-Type") == 5, scripted_radius.history  # 5: Outbound-User


def test_delayed_accept_still_brings_the_session_up(lab, lns, scripted_radius):
    scripted_radius.handler = lambda req: RadiusReply(table75_accept(req, scripted_radius.secret), delay=0.5)
    trigger(lab)
    granted = lns.wait_for(entity="dialout.session", id=KEY, to="connecting", within=10)
    auth = lns.events(entity="dialout.session", id=KEY, to="authenticating")[-1]
    waited = (granted["time_ns"] - auth["time_ns"]) / 1e9
    assert waited >= 0.45, f"granted {waited:.3f}s after the request: the 0.5 s delay was not applied"
    lns.wait_for(entity="dialout.session", id=KEY, to="inService", within=30)


def test_spoofed_answer_is_discarded_and_the_request_retransmitted(lab, lns, scripted_radius):
    scripted_radius.handler = lambda req: RadiusReply(table75_accept(req, scripted_radius.secret), spoof=True)
    trigger(lab)
    wait_for(lambda: len(scripted_radius.requests) >= 2, 10, "lnsd to retransmit the Access-Request")
    first, again = scripted_radius.requests[:2]
    assert (again.identifier, again.authenticator) == (first.identifier, first.authenticator), \
        "a retransmission must repeat Identifier and Request Authenticator (RFC 5080 §2.2.1)"
    # Every answer is discarded, so lnsd gives up after its retries: the same as no answer at all.
    ev = lns.wait_for(entity="dialout.session", id=KEY, to="inhibited", within=30)
    assert (ev["from"], ev["cause"]) == ("authenticating", "radius-timeout"), \
        f"lnsd accepted a spoofed Access-Accept or failed otherwise: {ev}"
    sent = {(r.identifier, r.authenticator) for r in scripted_radius.requests}
    assert len(sent) == 1 and len(scripted_radius.requests) >= 2, \
        f"only retransmissions of one request expected: {scripted_radius.history}"



def test_accept_without_message_authenticator_is_refused_and_counted(lab, lns, scripted_radius):
    """BlastRADIUS (CVE-2024-3596): lnsd requires a Message-Authenticator (RFC 3579 §3.2) in every
    Access-Accept by default. A server that sends none (message_authenticator=False) is not
    believed: every answer is dropped and counted, lnsd retransmits, then gives up; the same
    answer with one (the scripted server's default, as the lab's FreeRADIUS) is accepted."""
    def dropped() -> int:
        return lns.request("show l2tp dial-out chassis")["radius-dropped"]["missing-message-authenticator"]
    before = dropped()
    scripted_radius.handler = lambda req: RadiusReply(table75_accept(req, scripted_radius.secret),
                                                      message_authenticator=False)
    trigger(lab)
    ev = lns.wait_for(entity="dialout.session", id=KEY, to="inhibited", within=30)
    assert (ev["from"], ev["cause"]) == ("authenticating", "radius-timeout"), \
        f"lnsd believed an Access-Accept without Message-Authenticator: {ev}"
    assert dropped() - before >= 2, "each unsigned answer must be counted"
    lns.request("l2tp dial-out session reset", id=KEY)
    scripted_radius.handler = lambda req: table75_accept(req, scripted_radius.secret)
    trigger(lab)
    lns.wait_for(entity="dialout.session", id=KEY, to="connecting", within=10)
