"""`./lab demo`: the main job.

Today (foundation stage) it brings the default lab up with real FreeRADIUS as home and LNS RADIUS
servers, shows the namespaces and their addresses, proves every link, runs the seed's dial-out
authorisation (Access-Request for `0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt`, Service-Type
Outbound-User, no password) from the LNS namespace with Debian's radclient, prints the Access-Accept
attributes that the dial-out manager will use, and tears everything down. The end-to-end dial-out
through lnsd, lac-emu, isdn-emu and cpe-emu replaces the radclient step when those daemons exist
(see the open issues).
"""
from __future__ import annotations

import json
import re
import time

from . import freeradius
from . import lab as L
from . import topology as T
from .lab import REPO

DIALOUT_USER = "0.0.0.0:65000/10.10.1.1@L2TP-dial-out.de.dt"


def parse_radclient(text: str) -> dict:
    """radclient -x output → {"sent": {...}, "received": {"code": ..., "attributes": [[name, value]...]}}."""
    out: dict = {"sent": [], "received": {"code": None, "attributes": []}}
    section = None
    for line in text.splitlines():
        m = re.match(r"^(Sent|Received) (\S+) Id (\d+)", line)
        if m:
            section = m.group(1)
            if section == "Received":
                out["received"]["code"] = m.group(2)
            continue
        m = re.match(r"^\s+([A-Za-z0-9-]+(?::\d+)?) = (.*)$", line)
        if m and section:
            pair = [m.group(1), m.group(2).strip('"')]
            (out["sent"] if section == "Sent" else out["received"]["attributes"]).append(pair)
    return out


def radius_request(lab: L.Lab, server: str, attrs: dict[str, str], host: str = "lns") -> dict:
    """Send one Access-Request with radclient from `host` to the named topology RADIUS server."""
    srv = lab.topo.radius[server]
    lines = "\n".join(f'{k} = "{v}"' if k == "User-Name" else f"{k} = {v}" for k, v in attrs.items())
    cp = lab.exec(host, freeradius.radclient_argv(lab.radius_conf[server], srv.address, srv.auth_port,
                                                  "auth", srv.secret), input=lines + "\n", check=False)
    res = parse_radclient(cp.stdout)
    res["exit"] = cp.returncode
    return res


def run(a) -> int:
    topo = T.load(T.find(a.scenario, REPO / "scenarios" / "topologies"))
    timeline: list[dict] = []
    t0 = time.monotonic()

    def step(what: str, **detail) -> None:
        ev = {"ms": round((time.monotonic() - t0) * 1000, 1), "step": what, **detail}
        timeline.append(ev)
        if not a.json:
            extra = "  ".join(f"{k}={v}" for k, v in detail.items())
            print(f"{ev['ms']:9.1f} ms  {what}  {extra}")

    lab = L.Lab(topo, persistent=a.keep)
    ok = True
    try:
        lab.up()
        step("lab up", runid=lab.runid, namespaces=len(lab.namespaces), run_folder=str(lab.run_dir))
        if not a.json:
            for ns, ifs in lab.status()["namespaces"].items():
                print(f"             {ns:24} " + "  ".join(f"{i} {' '.join(x)}" for i, x in ifs.items()))
        for host, peer, addr in topo.neighbours():
            reached = lab.ping(host, addr)
            ok &= reached
            step("ping neighbour", **{"from": host, "to": f"{peer} {addr}", "reply": reached})
        if "home" in topo.radius and "lns" in topo.hosts:
            res = radius_request(lab, "home", {"User-Name": DIALOUT_USER, "Service-Type": "Outbound-User"})
            step("Access-Request", server="home", **{"User-Name": DIALOUT_USER}, **{"Service-Type": "Outbound-User"})
            code = res["received"]["code"]
            ok &= code == "Access-Accept"
            step(code or "no answer", attributes=len(res["received"]["attributes"]))
            if not a.json:
                for name, value in res["received"]["attributes"]:
                    print(f"{'':14}{name} = {value}")
            timeline[-1]["attribute_list"] = res["received"]["attributes"]
        (lab.run_dir / "timeline.json").write_text(json.dumps(timeline, indent=1))
    except KeyboardInterrupt:
        lab.down()
        raise
    except Exception:
        lab.down()
        raise
    if a.keep:
        print(f"lab {lab.runid} left up: ./lab shell HOST, ./lab down")
    else:
        lab.down()
        step("lab down", leftovers=len([n for n in L.netns.list_lab_namespaces() if lab.runid in n]))
    if a.json:
        print(json.dumps({"runid": lab.runid, "run_folder": str(lab.run_dir), "ok": ok, "timeline": timeline}, indent=1))
    else:
        print(f"run folder: {lab.run_dir}")
        print("demo: " + ("OK" if ok else "FAILED"))
    return 0 if ok else 1
