"""Records the dial-out golden captures of pcaps/ (pcaps/README.md): lnsd's dial-out in the default
lab (dlab.dialout_lab: real FreeRADIUS, lac-emu, isdn-emu, cpe-emu), one trigger per file, captured
in the `lns` namespace on every interface for L2TP and RADIUS until the dial-out session reached the
state the scenario ends in (JunosE "L2TP Dial-Out" Table 74): the basic dial-out up to inService;
each way the exchange fails (the isdn-emu number behaviours of test_exchange_and_selection.py);
each Table 75 deny reason (the home server's replies of test_table75.py, and its silence: the RADIUS
timeout, lnsd's Access-Request and its retransmissions); the dial-out with tunnel
authentication and hidden AVPs (RFC 2661 §4.3, §5.1.1) between lnsd and lac-emu. Not collected by
`./lab test` (no test_ prefix on the file); pcaps/record runs it."""
from __future__ import annotations

import pytest

from test_exchange_and_selection import EXCHANGE_CASES, DROP, DROP_CASE, accept, ONLY_LAC, CHECK
from test_table75 import DENY_CASES

from dlab import lab as L
from dlab import procs
from dlab.dialout_lab import (REPO, build_dir_or_skip, default_topology, site_destination, site_key, site_number,
                              start_daemons, wait_dialout_state)
from dlab.replay_run import golden_capture

RD, DOMAIN = "0.0.0.0:65000", "L2TP-dial-out.de.dt"
BASIC = 1
HIDDEN = 2          # the basic dial-out with hide-avps on both sides
EXCHANGE_NAMES = {71: "busy", 72: "no-answer", 73: "reject", 74: "unallocated"}
DENY_NAMES = {52: "service-type-missing"}   # 52 and 53 share lnsd's reason: no Service-Type, Framed-User
TIMEOUT = 58        # the home server does not answer (FreeRADIUS Do-Not-Respond): Table 75's RADIUS timeout
TIMEOUT_INTERVAL = "500ms"   # lnsd's radius-timeout for that file: 4 sends 0.5 s apart
# file name -> (case k, the dial-out session state the capture ends in)
CASES = {"dialout-basic.pcap": (BASIC, {"inService"}),
         "dialout-hidden-avps.pcap": (HIDDEN, {"inService"}),
         **{f"dialout-{n}.pcap": (k, {"inhibited"}) for k, n in EXCHANGE_NAMES.items()},
         "dialout-drop-after-inservice.pcap": (DROP, {"dormant"}),
         **{f"dialout-deny-{DENY_NAMES.get(k, DENY_CASES[k][2])}.pcap": (k, {"inhibited"}) for k in DENY_CASES},
         "dialout-deny-radius-timeout.pcap": (TIMEOUT, {"inhibited"})}
DAEMONS = {"isdn-emu", "lac-emu", "cpe-emu", "lnsd"}
DROP_AFTER = {"behaviour": "drop-after", "delay": "2s", "cause": DROP_CASE[0]["cause"]}


def _site(k: int) -> dict:
    return {"number": site_number(k), "name": f"cpe-t{k}", "secret": "cpe-pass", "require_auth": "chap",
            "users": {f"lns-{k}": f"lns-{k}-pass"}}


def _topology(raw: dict) -> None:
    home, lns = raw["radius"]["home"]["users"], raw["radius"]["lns"]["users"]
    for k in (HIDDEN, *EXCHANGE_NAMES, DROP):
        home.append({"name": f"{RD}/{site_destination(k)}@{DOMAIN}", "check": CHECK, "reply": accept(k, ONLY_LAC)})
    for k, (reply, check, _) in DENY_CASES.items():
        home.append({"name": f"{RD}/{site_destination(k)}@{DOMAIN}", "check": check or CHECK, "reply": reply})
    home.append({"name": f"{RD}/{site_destination(TIMEOUT)}@{DOMAIN}", "reply": [],
                 "check": ["Service-Type == Outbound-User", "Auth-Type := Accept", "Response-Packet-Type := Do-Not-Respond"]})
    for k in (HIDDEN, DROP):
        lns.append({"name": f"cpe-t{k}", "check": ['Cleartext-Password := "cpe-pass"'],
                    "reply": ["Service-Type = Framed-User", "Framed-Protocol = PPP", f"Framed-IP-Address = 198.18.{k}.2",
                              f'Framed-Route = "10.10.{k}.0/24 198.18.{k}.2 1"']})


def _daemons(c: dict) -> None:
    c["isdn"]["timers"] = {"no-answer": "2s"}
    for k, (behaviour, _, _) in EXCHANGE_CASES.items():
        c["isdn"]["numbers"][site_number(k)] = behaviour
    c["isdn"]["numbers"][site_number(DROP)] = DROP_AFTER
    c["isdn"]["numbers"][site_number(HIDDEN)] = {"behaviour": "answer"}
    c["cpe"]["sites"] += [_site(DROP), _site(HIDDEN)]
    for role in ("lac2", "isdn2", "cpe2"):
        c[role] = None
    c["lnsd"]["virtual-routers"] = c["lnsd"]["virtual-routers"][:1]
    c["lnsd"]["dialout"]["targets"] = c["lnsd"]["dialout"]["targets"][:1]


@pytest.fixture(scope="module")
def lab():
    bdir = build_dir_or_skip()
    with L.Lab(default_topology(_topology), capture=False) as lab:
        yield lab, bdir


@pytest.mark.parametrize("name", sorted(CASES))
def test_record_dialout(lab, name):
    lab, bdir = lab
    k, end = CASES[name]
    hidden = k == HIDDEN

    def configure(c: dict) -> None:
        _daemons(c)
        if hidden:   # tunnel authentication (Tunnel-Password = lac-secret) with hidden AVPs both ways
            c["lnsd"]["peers"] = [{"address": "198.51.100.2", "trusted": True, "secret": "lac-secret",
                                   "hide-avps": True}]
            c["lac"]["hide_avps"] = True
        if k == TIMEOUT:
            c["lnsd"]["timers"]["radius-timeout"] = TIMEOUT_INTERVAL
    for p in [p for p in lab.procs if p.name in DAEMONS]:   # fresh daemons per file: each capture starts from nothing
        procs.stop(p)
        lab.procs.remove(p)
    d = start_daemons(lab, bdir, configure)
    with golden_capture(lab, f"golden-{k}", "lns", REPO / "pcaps" / name):
        lab.exec("home", ["ping", "-c", "1", "-W", "1", site_destination(k)], check=False)
        key = site_key(k) if k != BASIC else site_key(1)
        if end == {"dormant"}:
            wait_dialout_state(d, key, {"inService"}, 30)
        wait_dialout_state(d, key, end, 30)
