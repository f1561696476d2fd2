"""A scripted LAC (docs/scenarios.md): lac-emu, isdn-emu and cpe-emu are not started, the test is
the LAC at 198.51.100.2 that the home RADIUS server sends lnsd to. lnsd opens the tunnel (RFC 2661
§5.1: SCCRQ/SCCRP/SCCCN, authenticated with the Tunnel-Password `lac-secret`, §4.4.3 challenge),
asks for the outgoing call (OCRQ, §6.7) and the LAC reports the remote line busy (CDN, §6.12, Q.931
cause 17): the dial-out session is inhibited (JunosE "L2TP Dial-Out" Table 74)."""
import pytest

from dlab.proto import L2TP, challenge_response

KEY = "default/10.10.0.0/16/10.10.1.1"
SECRET = "lac-secret"                     # Tunnel-Password of the home server's Access-Accept
OUR_CHALLENGE = bytes(range(16))


def without_lac(configs):
    for role in ("isdn", "lac", "cpe"):
        configs[role] = None              # a role set to None is not started


pytestmark = [pytest.mark.scenario, pytest.mark.l2tp, pytest.mark.lab_config(configure=without_lac)]


def test_busy_line_reported_by_the_lac_inhibits_the_session(lab, lns, scripted_lac):
    lab.exec("home", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)   # the trigger
    sccrq = scripted_lac.expect("SCCRQ", within=10)
    assert sccrq.challenge, "lnsd must challenge a LAC it has a secret for (RFC 2661 §4.4.3)"
    # Bearer Capabilities: a LAC that can place outgoing calls MUST send them (RFC 2661 §4.4.3); lnsd
    # sends no OCRQ whose Bearer Type the LAC did not advertise.
    scripted_lac.send(L2TP.sccrp(assigned_tunnel_id=41, host_name="scripted-lac", challenge=OUR_CHALLENGE,
                                 bearer_capabilities=3,
                                 challenge_response=challenge_response(2, SECRET, sccrq.challenge)))
    scccn = scripted_lac.expect("SCCCN", within=5)
    assert scccn.challenge_response == challenge_response(3, SECRET, OUR_CHALLENGE), "lnsd's SCCCN response is wrong"
    ocrq = scripted_lac.expect("OCRQ", within=5)
    assert ocrq.called_number == "5551001", f"Called Number must be ERX-Dial-Out-Number: {ocrq.called_number}"
    scripted_lac.send(L2TP.ocrp(session_id=ocrq.assigned_session_id, assigned_session_id=9))
    scripted_lac.send(L2TP.cdn(session_id=ocrq.assigned_session_id, assigned_session_id=9, result=2,
                               error=0, q931_cause={"cause_code": 17, "cause_msg": 0, "advisory": "user busy"}))
    ev = lns.wait_for(entity="dialout.session", id=KEY, to="inhibited", within=10)
    assert (ev["from"], ev["event"]) == ("connecting", "call-failed"), ev
    assert "q931 17" in ev["cause"], f"the Q.931 cause must reach the session: {ev['cause']}"
    lns.request("l2tp dial-out session reset", id=KEY)
