"""Topology as data: hosts, links, addresses, routes, RADIUS servers and processes.

A topology is a YAML file (see scenarios/topologies/default.yaml and docs/lab.md). `load(path)`
returns a validated `Topology`; any error raises `TopologyError` naming the key path, the value
and the rule broken, e.g. ``links[1].ends.lac: '198.51.100.2' is not an address with prefix
length (write 198.51.100.2/24)``.
"""
from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

HOST_RE = re.compile(r"^[a-z][a-z0-9-]{0,9}$")
LINK_RE = re.compile(r"^[a-z][a-z0-9-]{0,8}$")
CPE_KINDS = ("emu", "pppd")


class TopologyError(ValueError):
    """A topology file breaks a rule. The message names key path, value and rule."""

    def __init__(self, key: str, value: object, rule: str):
        super().__init__(f"{key}: {value!r} {rule}")
        self.key, self.value, self.rule = key, value, rule


@dataclass
class Route:
    to: str          # "default" or a prefix
    via: str | None = None
    dev: str | None = None


@dataclass
class Host:
    name: str
    routes: list[Route] = field(default_factory=list)
    sysctls: dict[str, str] = field(default_factory=dict)


@dataclass
class Link:
    name: str
    ends: dict[str, list[str]]   # host -> addresses with prefix length

    @property
    def shared(self) -> bool:
        """More than two hosts: a bridge in the lab's switch namespace joins them."""
        return len(self.ends) > 2


@dataclass
class RadiusUser:
    name: str
    check: list[str]
    reply: list[str]


@dataclass
class RadiusServer:
    name: str
    host: str
    address: str
    secret: str
    clients: list[str]
    users: list[RadiusUser]
    auth_port: int = 1812
    acct_port: int = 1813


@dataclass
class Process:
    name: str
    host: str
    argv: list[str]
    ready: str | None = None     # text in the process's output that means "ready"


@dataclass
class Topology:
    name: str
    description: str
    hosts: dict[str, Host]
    links: list[Link]
    radius: dict[str, RadiusServer]
    processes: list[Process]
    source: Path | None = None
    # Who answers the dial-out at the remote office: "emu" (cpe-emu, our PPP engine) or "pppd"
    # (real pppd on a user-mode Linux guest, dlab.pppd_cpe; docs/interop.md).
    cpe: str = "emu"

    def address_of(self, host: str, link: str | None = None) -> str:
        """First address (without prefix length) of `host`, on `link` if given."""
        for lk in self.links:
            if (link is None or lk.name == link) and host in lk.ends:
                return lk.ends[host][0].split("/")[0]
        raise KeyError(f"host {host!r} has no address" + (f" on link {link!r}" if link else ""))

    def neighbours(self) -> list[tuple[str, str, str]]:
        """(host, peer host, peer address) for every pair of hosts sharing a link."""
        out = []
        for lk in self.links:
            for h in lk.ends:
                for p, addrs in lk.ends.items():
                    if p != h:
                        out.append((h, p, addrs[0].split("/")[0]))
        return out


def _req(d: dict, key: str, path: str, kind: type) -> Any:
    if key not in d:
        raise TopologyError(f"{path}.{key}" if path else key, None, "is required")
    v = d[key]
    if not isinstance(v, kind):
        raise TopologyError(f"{path}.{key}" if path else key, v, f"must be a {kind.__name__}")
    return v


def _iface(value: object, key: str) -> str:
    if not isinstance(value, str) or "/" not in value:
        raise TopologyError(key, value, "is not an address with prefix length (write e.g. 192.0.2.1/24)")
    try:
        ipaddress.ip_interface(value)
    except ValueError as e:
        raise TopologyError(key, value, f"is not a valid address/prefix ({e})") from None
    return value


def _allowed_keys(d: dict, allowed: set[str], path: str) -> None:
    for k in d:
        if k not in allowed:
            raise TopologyError(f"{path}.{k}" if path else str(k), d[k],
                                f"is not a known key (allowed: {', '.join(sorted(allowed))})")


def parse(doc: dict, source: Path | None = None) -> Topology:
    """Validate a topology document (already YAML-decoded) and build a Topology."""
    if not isinstance(doc, dict):
        raise TopologyError("<top>", doc, "must be a mapping")
    _allowed_keys(doc, {"name", "description", "hosts", "links", "radius", "processes", "cpe"}, "")
    cpe = doc.get("cpe", "emu")
    if cpe not in CPE_KINDS:
        raise TopologyError("cpe", cpe, f"is not a CPE kind ({', '.join(CPE_KINDS)})")
    name = _req(doc, "name", "", str)
    hosts_doc = _req(doc, "hosts", "", dict)
    hosts: dict[str, Host] = {}
    for hname, hdoc in hosts_doc.items():
        hp = f"hosts.{hname}"
        if not isinstance(hname, str) or not HOST_RE.match(hname):
            raise TopologyError(hp, hname, "must match [a-z][a-z0-9-]{0,9} (namespace and veth names stay short)")
        hdoc = hdoc or {}
        if not isinstance(hdoc, dict):
            raise TopologyError(hp, hdoc, "must be a mapping")
        _allowed_keys(hdoc, {"routes", "sysctls"}, hp)
        routes = []
        for i, r in enumerate(hdoc.get("routes", []) or []):
            rp = f"{hp}.routes[{i}]"
            if not isinstance(r, dict):
                raise TopologyError(rp, r, "must be a mapping with 'to' and 'via' or 'dev'")
            _allowed_keys(r, {"to", "via", "dev"}, rp)
            to = _req(r, "to", rp, str)
            if to != "default":
                try:
                    ipaddress.ip_network(to)
                except ValueError:
                    raise TopologyError(f"{rp}.to", to, "is not 'default' or an IP prefix") from None
            via = r.get("via")
            if via is not None:
                try:
                    ipaddress.ip_address(via)
                except ValueError:
                    raise TopologyError(f"{rp}.via", via, "is not an IP address") from None
            if via is None and r.get("dev") is None:
                raise TopologyError(rp, r, "needs 'via' or 'dev'")
            routes.append(Route(to, via, r.get("dev")))
        sysctls = {str(k): str(v) for k, v in (hdoc.get("sysctls") or {}).items()}
        hosts[hname] = Host(hname, routes, sysctls)

    links: list[Link] = []
    seen_links: set[str] = set()
    for i, ldoc in enumerate(_req(doc, "links", "", list)):
        lp = f"links[{i}]"
        if not isinstance(ldoc, dict):
            raise TopologyError(lp, ldoc, "must be a mapping with 'name' and 'ends'")
        _allowed_keys(ldoc, {"name", "ends"}, lp)
        lname = _req(ldoc, "name", lp, str)
        if not LINK_RE.match(lname):
            raise TopologyError(f"{lp}.name", lname, "must match [a-z][a-z0-9-]{0,8} (interface names ≤ 15 characters)")
        if lname in seen_links:
            raise TopologyError(f"{lp}.name", lname, "is used by an earlier link")
        seen_links.add(lname)
        ends_doc = _req(ldoc, "ends", lp, dict)
        if len(ends_doc) < 2:
            raise TopologyError(f"{lp}.ends", ends_doc, "must name at least two hosts")
        ends: dict[str, list[str]] = {}
        for h, a in ends_doc.items():
            ep = f"{lp}.ends.{h}"
            if h not in hosts:
                raise TopologyError(ep, h, "is not a host declared under 'hosts'")
            addrs = a if isinstance(a, list) else [a]
            ends[h] = [_iface(x, ep) for x in addrs]
        links.append(Link(lname, ends))

    radius: dict[str, RadiusServer] = {}
    for rname, rdoc in (doc.get("radius") or {}).items():
        rp = f"radius.{rname}"
        if not isinstance(rdoc, dict):
            raise TopologyError(rp, rdoc, "must be a mapping")
        _allowed_keys(rdoc, {"host", "address", "secret", "clients", "users", "auth_port", "acct_port"}, rp)
        host = _req(rdoc, "host", rp, str)
        if host not in hosts:
            raise TopologyError(f"{rp}.host", host, "is not a host declared under 'hosts'")
        address = _req(rdoc, "address", rp, str)
        host_addrs = [x.split("/")[0] for lk in links for x in lk.ends.get(host, [])]
        if address not in host_addrs:
            raise TopologyError(f"{rp}.address", address, f"is not an address of host {host} ({', '.join(host_addrs)})")
        secret = _req(rdoc, "secret", rp, str)
        clients = _req(rdoc, "clients", rp, list)
        for j, c in enumerate(clients):
            try:
                ipaddress.ip_network(c)
            except ValueError:
                raise TopologyError(f"{rp}.clients[{j}]", c, "is not an IP address or prefix") from None
        users = []
        for j, u in enumerate(rdoc.get("users") or []):
            up = f"{rp}.users[{j}]"
            if not isinstance(u, dict):
                raise TopologyError(up, u, "must be a mapping with name, check, reply")
            _allowed_keys(u, {"name", "check", "reply"}, up)
            uname = _req(u, "name", up, str)
            if '"' in uname or "\n" in uname:
                raise TopologyError(f"{up}.name", uname, "may not contain quotes or newlines")
            check = [str(x) for x in (u.get("check") or [])]
            reply = [str(x) for x in (u.get("reply") or [])]
            for k, item in enumerate(check + reply):
                if not re.match(r"^[A-Za-z0-9-]+(:\d+)?\s*(==|:=|=|\+=|!=|>=|<=|=~)\s*\S", item):
                    raise TopologyError(f"{up}.check/reply[{k}]", item, "is not 'Attribute op value' (FreeRADIUS users-file syntax)")
            users.append(RadiusUser(uname, check, reply))
        radius[rname] = RadiusServer(rname, host, address, secret, [str(c) for c in clients], users,
                                     int(rdoc.get("auth_port", 1812)), int(rdoc.get("acct_port", 1813)))

    processes = []
    for i, pdoc in enumerate(doc.get("processes") or []):
        pp = f"processes[{i}]"
        if not isinstance(pdoc, dict):
            raise TopologyError(pp, pdoc, "must be a mapping with name, host, argv")
        _allowed_keys(pdoc, {"name", "host", "argv", "ready"}, pp)
        host = _req(pdoc, "host", pp, str)
        if host not in hosts:
            raise TopologyError(f"{pp}.host", host, "is not a host declared under 'hosts'")
        argv = _req(pdoc, "argv", pp, list)
        processes.append(Process(_req(pdoc, "name", pp, str), host, [str(a) for a in argv], pdoc.get("ready")))

    return Topology(name, str(doc.get("description", "")), hosts, links, radius, processes, source, cpe)


def load(path: str | Path) -> Topology:
    """Read and validate a topology YAML file. Raises TopologyError or OSError."""
    p = Path(path)
    try:
        doc = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        raise TopologyError(str(p), "<yaml>", f"is not valid YAML: {e}") from None
    return parse(doc, p)


def find(name_or_path: str, search_dir: Path) -> Path:
    """Resolve a topology argument: a file path, or a name under scenarios/topologies/."""
    p = Path(name_or_path)
    if p.suffix in (".yaml", ".yml") and p.exists():
        return p
    cand = search_dir / f"{name_or_path}.yaml"
    if cand.exists():
        return cand
    known = ", ".join(sorted(x.stem for x in search_dir.glob("*.yaml")))
    raise TopologyError("topology", name_or_path, f"is neither a file nor a known topology ({known})")
