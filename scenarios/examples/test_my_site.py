"""My site (the worked example of docs/scenarios.md): a ping from `home` to the remote office
10.10.1.1 dials out through the LAC, the session comes up and the office answers."""
import pytest

from dlab.wait import wait_for

KEY = "default/10.10.0.0/16/10.10.1.1"          # <virtual router>/<dial-out prefix>/<destination>
pytestmark = [pytest.mark.scenario, pytest.mark.dialout]


def test_ping_dials_out_and_the_office_answers(lab, lns, cpe):
    lab.exec("home", ["ping", "-c", "1", "-W", "1", "10.10.1.1"], check=False)   # the trigger
    lns.wait_for(entity="dialout.session", id=KEY, to="authenticating", within=5)
    up = lns.wait_for(entity="dialout.session", id=KEY, to="inService", within=30)
    assert up["from"] == "connecting", f"inService must follow connecting: {up}"
    wait_for(lambda: lab.ping("home", "10.10.1.1"), 20, "10.10.1.1 answering home")
    call = cpe.show("state")["sites"][0]["call"]
    assert call["peer_name"] == "lns-home", f"the LNS authenticated as {call['peer_name']!r}"
