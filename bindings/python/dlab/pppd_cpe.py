"""Real pppd as the remote CPE: the topology option `cpe: pppd` (docs/interop.md).

The sites of cpe-emu's configuration (dlab.dialout_lab.daemon_configs, role `cpe`) are answered by
pppd 2.4.9 on a user-mode Linux guest (dlab.uml) instead: one guest in the lab's `cpe` host, one
serial line per site (/dev/ttyS<k>), one `cpe-line` relay per site joining isdn-emu's B-channel of
the site's number to that line (peers/cpe line_relay: sync HDLC frames of a digital call converted
to the async HDLC pppd speaks, RFC 1662 §4/§5; an analog call relayed as is). Each pppd:

- authenticates the LNS as the site's `require_auth` says (`require-chap` / `require-pap` /
  `noauth`) against its own /etc/ppp/chap-secrets and pap-secrets (the site's `users`);
- authenticates itself as `name` with `secret` (fault `wrong-password`: a wrong secret; fault
  `refuse-auth`: `refuse-pap refuse-chap`);
- takes the address IPCP gives it (`noipdefault`); the site with a `tun` (JunosE "L2TP Dial-Out"'s remote
  office) also owns the LAN: the guest's vec0 on the `site` link with the CPE's LAN address
  (10.10.1.254/24), a default route over ppp0, forwarding on, so `remote` reaches `home`.

Extra pppd options per site number come from the `pppd` role of the configs (``{"5551001":
["mru", "1000"]}``). pppd runs in a loop (one pppd per call, `nodetach`); its debug log is ``<run>/guests/pppd-cpe/out/pppd-ttyS<k>.log``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from .lab import LabError
from .uml import Guest

GUEST = "pppd-cpe"
# pppd runs these with: interface tty speed local-address remote-address ipparam (pppd(8) "SCRIPTS").
# Every site answers for its own IPCP address over its own link (a routing table per ppp unit,
# chosen by source address); the LAN site's pppd also has `defaultroute` in the main table.
IP_UP = """#!/bin/sh
t=$((100 + ${1#ppp}))
ip rule add from "$4" table "$t"
ip route replace default dev "$1" table "$t"
"""
IP_DOWN = """#!/bin/sh
t=$((100 + ${1#ppp}))
ip rule del from "$4" table "$t"
"""
LAN_LINK = "site"


@dataclass
class PppdSite:
    """One pppd on one serial line. `require`: "chap" | "pap" | "none" (how it checks the LNS);
    `lns_users`: LNS name -> secret it accepts; `lan`: address/prefix of the guest's LAN
    interface when this site owns it; `options`: extra pppd options (words)."""
    number: str
    name: str
    secret: str
    require: str = "chap"
    lns_users: dict[str, str] = field(default_factory=dict)
    refuse_auth: bool = False
    lan: str | None = None
    options: list[str] = field(default_factory=list)

    @classmethod
    def from_cpe_site(cls, site: dict, lan: str | None, options: list[str]) -> "PppdSite":
        """A cpe-emu site (peers/cpe SiteConfig keys) as a pppd site. LabError for a cpe-emu
        fault pppd cannot play (busy, reject, no-answer, no-lcp: those are the exchange's or
        cpe-emu's, not a PPP peer's)."""
        fault = site.get("fault", "none")
        if fault not in ("none", "wrong-password", "refuse-auth"):
            raise LabError(f"cpe: pppd: site {site['number']} fault {fault!r} is not a pppd behaviour "
                           "(use cpe-emu for it)")
        secret = site.get("secret", "cpe-pass")
        return cls(number=str(site["number"]), name=site.get("name", "cpe-remote"),
                   secret=secret + "-wrong" if fault == "wrong-password" else secret,
                   require=site.get("require_auth", "none"), lns_users=dict(site.get("users", {})),
                   refuse_auth=fault == "refuse-auth", lan=lan, options=list(options))

    def options_file(self, tty: str) -> str:
        """The pppd options file of this site on serial line `tty` (pppd(8) option names)."""
        auth = {"chap": "require-chap", "pap": "require-pap", "none": "noauth"}[self.require]
        lines = [f"# site {self.number}", "local", "nocrtscts", "silent", "nodetach", "noipdefault",
                 f"name {self.name}", f"user {self.name}", auth, "debug",
                 f"logfile /mnt/out/pppd-{tty}.log", f"ipparam {self.number}"]
        if self.refuse_auth:
            lines += ["refuse-pap", "refuse-chap", "refuse-mschap", "refuse-mschap-v2", "refuse-eap"]
        if self.lan:
            lines.append("defaultroute")
        if self.options:
            lines.append(" ".join(self.options))
        return "\n".join(lines) + "\n"


def secrets_file(sites: list[PppdSite]) -> str:
    """chap-secrets / pap-secrets (pppd(8) "AUTHENTICATION"): client server secret addresses —
    each site's own name and secret (to authenticate itself, any server), and every LNS name the
    sites accept (when authenticating the LNS)."""
    lines = ["# client\tserver\tsecret\taddresses"]
    seen = set()
    for s in sites:
        for client, secret in [(s.name, s.secret), *s.lns_users.items()]:
            if (client, secret) not in seen:
                seen.add((client, secret))
                lines.append(f'"{client}"\t*\t"{secret}"\t*')
    return "\n".join(lines) + "\n"


class PppdCpe:
    """The guest and its relays for `sites`, in lab host `host`; `isdn_socket`: isdn-emu's socket."""

    def __init__(self, lab, bdir: Path, sites: list[PppdSite], isdn_socket: str, host: str = "cpe"):
        self.lab, self.bdir, self.sites, self.isdn_socket, self.host = lab, bdir, sites, isdn_socket, host
        self.guest: Guest | None = None

    def tty(self, number: str) -> str:
        return f"ttyS{[s.number for s in self.sites].index(number)}"

    def run_script(self) -> str:
        sh = ["$MODPROBE ppp_async"]
        for s in self.sites:
            if s.lan:
                sh += ["ip link set vec0 up", f"ip addr add {s.lan} dev vec0"]
        for k, s in enumerate(self.sites):
            sh.append(f"( while :; do echo \"pppd start $(cat /proc/uptime)\"; pppd /dev/ttyS{k} 115200 "
                      f"file /etc/ppp/site-ttyS{k}; echo \"pppd exit $?\"; sleep 0.2; done ) "
                      f"> /mnt/out/loop-ttyS{k}.log 2>&1 &")
        return "\n".join(sh)

    def start(self) -> "PppdCpe":
        lan = any(s.lan for s in self.sites)
        if lan:   # the guest owns the CPE's LAN address: the namespace's end of `site` carries none
            self.lab.exec(self.host, ["ip", "addr", "flush", "dev", LAN_LINK])
        files = {"options": "# dlab: every option is in site-ttyS<k>\n", "ip-up": IP_UP, "ip-down": IP_DOWN,
                 "chap-secrets": secrets_file(self.sites), "pap-secrets": secrets_file(self.sites)}
        for k, s in enumerate(self.sites):
            files[f"site-ttyS{k}"] = s.options_file(f"ttyS{k}")
        self.guest = Guest(self.lab, GUEST, self.host, run_script=self.run_script(), etc_ppp=files,
                           serial=len(self.sites), nets=[(LAN_LINK, "raw")] if lan else [], mem="96M").start()
        try:
            for k, s in enumerate(self.sites):
                fd = self.guest.line_fds[k]
                self.lab.start(f"cpe-line-{s.number}", self.host,
                               [str(self.bdir / "peers/cpe/cpe-line"), "--isdn", self.isdn_socket,
                                "--number", s.number, "--line-fd", str(fd),
                                "--control", str(self.control(s.number))],
                               ready="cpe-line ready", pass_fds=(fd,))
        finally:
            self.guest.close_lines()
        return self

    def control(self, number: str) -> Path:
        return self.lab.run_dir / f"cpe-line-{number}.ctl"

    def log(self, number: str) -> str:
        """pppd's debug log of the site's line (every packet sent and received, as pppd decodes it)."""
        return self.guest.read_out(f"pppd-{self.tty(number)}.log") if self.guest else ""
