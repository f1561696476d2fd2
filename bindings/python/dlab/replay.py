"""Replaying users' captures: the conversations in a capture (analysis) and their stateful replay
against a live implementation under test with a difference report (dlab.replay_run).

    from dlab import replay
    convs = replay.load("lac-to-cisco.pcap")
    print(convs.describe())                  # what `./lab replay CAPTURE --list` prints
    t = convs.tunnels[0]; t.lac, t.lns, [s.kind for s in t.sessions]

The analysis is general (no vendor is special): a control connection is found by its Tunnel IDs and
addresses (ports may float, RFC 2661 §8.1), each side's role from the messages it sends (ICRQ, ICCN,
OCRP, OCCN come from the LAC; ICRP, OCRQ from the LNS, RFC 2661 §6.6-§6.11; without a call, the
SCCRQ sender is taken as the LAC), the sessions from Assigned Session IDs (§4.4.4), the PPP inside
the data messages (RFC 2661 §3.2, decoded by proto/), and the RADIUS exchanges from Identifier and
addresses (RFC 2865 §3). Every frame that fits no conversation is listed in `skipped` with why.
All decoding goes through dlab.proto (proto/): no second parser here.
"""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field

from . import proto as P

LAC_SENDS = {"ICRQ", "ICCN", "OCRP", "OCCN", "WEN"}   # RFC 2661 §6.6-§6.11, §6.12
LNS_SENDS = {"ICRP", "OCRQ", "SLI"}


@dataclass
class Message:
    """One captured datagram of a conversation: the capture frame (dict of dlab.proto.read_pcap),
    its sender's role ('LAC' / 'LNS' / 'client' / 'server') and the decoded packet."""
    frame: dict
    sender: str

    @property
    def packet(self):
        return self.frame["packet"]

    @property
    def name(self) -> str:
        p = self.packet
        if self.frame["protocol"] == "l2tp":
            return p.message_name
        return p.code_name

    @property
    def time(self) -> float:
        return self.frame["time"]

    @property
    def index(self) -> int:
        return self.frame["index"]


@dataclass
class PppFrame:
    """A PPP frame inside a data message (RFC 2661 §3.2): sender role, protocol number, the codec's
    object (LCP / IPCP / PAP / CHAP or raw octets), the data message it came in."""
    sender: str
    protocol: int
    packet: object
    message: Message

    @property
    def name(self) -> str:
        names = {P.PROTO_LCP: "LCP", P.PROTO_PAP: "PAP", P.PROTO_CHAP: "CHAP", P.PROTO_IPCP: "IPCP",
                 P.PROTO_IPV4: "IPv4", 0x80FD: "CCP"}
        base = names.get(self.protocol, f"0x{self.protocol:04x}")
        pkt = self.packet
        if hasattr(pkt, "code_name"):
            return f"{base} {pkt.code_name}"
        if hasattr(pkt, "code"):
            return f"{base} {({1: 'Request', 2: 'Ack', 3: 'Nak'} if self.protocol == P.PROTO_PAP else {1: 'Challenge', 2: 'Response', 3: 'Success', 4: 'Failure'}).get(pkt.code, pkt.code)}"
        return base


@dataclass
class Session:
    """A call of a control connection: kind 'incoming' (ICRQ) or 'outgoing' (OCRQ) or 'unknown'
    (picked up after its set-up), both Session IDs, its control messages and the PPP frames of its
    data messages in capture order; `complete` when the set-up was captured."""
    kind: str
    lac_session_id: int = 0
    lns_session_id: int = 0
    messages: list[Message] = field(default_factory=list)
    ppp: list[PppFrame] = field(default_factory=list)
    complete: bool = False

    @property
    def pap(self) -> tuple[str, str] | None:
        """(Peer-ID, Password) of the first PAP Authenticate-Request (RFC 1334 §2.2.1), or the proxy
        PAP of the ICCN (RFC 2661 §4.4.5: Proxy Authen Type 3, Name, Response), else None."""
        for f in self.ppp:
            if f.protocol == P.PROTO_PAP and getattr(f.packet, "code", 0) == 1:
                return f.packet.peer_id, f.packet.password
        for m in self.messages:
            if m.name == "ICCN" and m.packet.get("Proxy Authen Type") == 3:
                resp = m.packet.get("Proxy Authen Response")
                name = m.packet.get("Proxy Authen Name")
                if name is not None and resp is not None:
                    return (name, resp.decode("utf-8", "surrogateescape") if isinstance(resp, bytes) else str(resp))
        return None


@dataclass
class Tunnel:
    """A control connection (RFC 2661 §5.1): the LAC's and LNS's addresses (address, port) as first
    seen (later ports may float), both Assigned Tunnel IDs, every control message (ZLBs included)
    in capture order, its sessions; `complete` when SCCRQ was captured; `floated` when a side
    answered from another port than the one first used."""
    number: int
    lac: tuple[str, int] | None = None
    lns: tuple[str, int] | None = None
    lac_tunnel_id: int = 0
    lns_tunnel_id: int = 0
    initiator: str = "LAC"
    messages: list[Message] = field(default_factory=list)
    sessions: list[Session] = field(default_factory=list)
    complete: bool = False
    floated: bool = False
    roles_from: str = "SCCRQ sender taken as LAC"
    initiator_addr: tuple[str, int] = ("", 0)    # who sent the first message seen
    peer_addr: tuple[str, int] = ("", 0)
    ids: dict = field(default_factory=dict)       # address -> the Tunnel ID that side assigned
    raw: list = field(default_factory=list)       # frames, until roles are assigned

    def role_of(self, addr: str) -> str:
        return "LAC" if self.lac and addr == self.lac[0] else "LNS"


@dataclass
class RadiusExchange:
    """A RADIUS request and its reply (None if not captured): client and server (address, port),
    Identifier, User-Name, Service-Type; `retransmissions`: the same request sent again before a
    reply (same Code, Identifier and Request Authenticator: RFC 5080 §2.2.1), in capture order."""
    request: Message
    reply: Message | None
    client: tuple[str, int]
    server: tuple[str, int]
    retransmissions: list[Message] = field(default_factory=list)

    @property
    def user(self) -> str | None:
        return self.request.packet.get("User-Name")

    @property
    def service_type(self):
        return self.request.packet.get("Service-Type")


SERVICE_TYPE_OUTBOUND = 5    # RFC 2865 §5.6: Outbound-User, the Access-Request of a dial-out


@dataclass
class DialOut:
    """An LNS's dial-out seen in the capture (JunosE "L2TP Dial-Out"): its Access-Request with
    Service-Type Outbound (RFC 2865 §5.6) and the reply (None if not captured), the parts of the
    dial-out User-Name `[route distinguisher/]destination@domain` (JunosE "L2TP Dial-Out",
    "Access-Request Message"; destination None when the name has no IPv4 address there), and the
    control connection the LNS used after it (the first tunnel where the LNS sent SCCRQ or OCRQ
    after the request), or None (the dial-out was denied or failed before L2TP); `trigger`: the
    capture frame (protocol 'ipv4', dlab.proto.read_pcap) of the packet that triggered it, the
    first IPv4 packet towards the destination before the Access-Request whatever its protocol
    (JunosE "L2TP Dial-Out": a packet routed into the dial-out target), or None."""
    radius: RadiusExchange
    destination: str | None
    route_distinguisher: str | None
    domain: str | None
    tunnel: Tunnel | None = None
    trigger: dict | None = None

    @property
    def user(self) -> str:
        return self.radius.user or ""

    @property
    def outcome(self) -> str:
        """'Access-Accept' / 'Access-Reject' / 'no reply captured'."""
        return self.radius.reply.name if self.radius.reply else "no reply captured"


def parse_dialout_user(name: str) -> tuple[str | None, str | None, str | None]:
    """(destination, route distinguisher, domain) of a dial-out User-Name `[RD/]address@domain`
    (JunosE "L2TP Dial-Out", "Access-Request Message"); parts that are not there are None."""
    local, _, domain = name.rpartition("@") if "@" in name else (name, "", "")
    rd, _, dest = local.rpartition("/")
    try:
        ipaddress.IPv4Address(dest)
    except ValueError:
        dest = None
    return dest, rd or None, domain or None


@dataclass
class Conversations:
    """What load() found: tunnels, RADIUS exchanges, dial-outs, PPP on the link, the other IPv4
    packets (`ip_packets`, also counted by kind in the capture's skipped kinds), skipped frames
    ((frame index, reason)), and the capture (dlab.proto.Capture: skipped kinds, interfaces)."""
    path: str
    capture: P.Capture
    tunnels: list[Tunnel] = field(default_factory=list)
    radius: list[RadiusExchange] = field(default_factory=list)
    ppp_on_link: list[dict] = field(default_factory=list)
    ip_packets: list[dict] = field(default_factory=list)           # 'ipv4' frames: neither L2TP nor RADIUS
    skipped: list[tuple[int, str]] = field(default_factory=list)   # (frame, "kind: detail")
    dialouts: list[DialOut] = field(default_factory=list)

    def tunnel(self, number: int) -> Tunnel:
        for t in self.tunnels:
            if t.number == number:
                return t
        raise KeyError(f"no tunnel {number} in {self.path} (tunnels: {[t.number for t in self.tunnels]})")

    def describe(self) -> str:
        """The --list text: one block per tunnel and its sessions, then RADIUS, then what was skipped."""
        c = self.capture
        out = [f"{self.path}: {c.format}, {c.total} frames, link types "
               f"{', '.join('%d (%s)' % (i['link_type'], i['name']) for i in c.interfaces) or 'none'}"]
        for t in self.tunnels:
            lac = f"{t.lac[0]}:{t.lac[1]}" if t.lac else "?"
            lns = f"{t.lns[0]}:{t.lns[1]}" if t.lns else "?"
            out.append(f"tunnel {t.number}: LAC {lac} (Tunnel ID {t.lac_tunnel_id}) <-> LNS {lns} "
                       f"(Tunnel ID {t.lns_tunnel_id}), {len(t.messages)} control messages, "
                       f"{'complete' if t.complete else 'picked up mid-way'}"
                       f"{', ports floated' if t.floated else ''}; roles: {t.roles_from}")
            for i, s in enumerate(t.sessions, 1):
                pap = s.pap
                out.append(f"  session {i}: {s.kind}, LAC Session ID {s.lac_session_id}, LNS Session ID "
                           f"{s.lns_session_id}, {len(s.messages)} control messages, {len(s.ppp)} PPP frames"
                           f"{' (' + ', '.join(sorted({f.name.split()[0] for f in s.ppp})) + ')' if s.ppp else ''}"
                           f"{f', PAP user {pap[0]!r}' if pap else ''}"
                           f"{'' if s.complete else ', picked up mid-way'}")
        for x in self.dialouts:
            out.append(f"dial-out: {x.user!r} (destination {x.destination or '?'}) -> {x.outcome}"
                       f"{f'; tunnel {x.tunnel.number}' if x.tunnel else '; no tunnel'}"
                       f"{trigger_text(x.trigger)}")
        for r in self.radius:
            out.append(f"radius: client {r.client[0]}:{r.client[1]} -> server {r.server[0]}:{r.server[1]} "
                       f"{r.request.name} id {r.request.packet.identifier} user {r.user!r}"
                       f"{f', sent {1 + len(r.retransmissions)} times' if r.retransmissions else ''} -> "
                       f"{r.reply.name if r.reply else 'no reply captured'}")
        if self.ppp_on_link:
            out.append(f"PPP on the link: {len(self.ppp_on_link)} frames")
        kinds = dict(c.skipped)
        for _, why in self.skipped:
            kind = why.split(": ")[0]
            kinds[kind] = kinds.get(kind, 0) + 1
        if kinds:
            out.append("skipped: " + ", ".join(f"{k} {v}" for k, v in sorted(kinds.items())))
        if not self.tunnels and not self.radius:
            out.append("no L2TP control connection and no RADIUS exchange in this capture")
        return "\n".join(out)


def _ppp_of(m: Message, sender: str) -> PppFrame | None:
    try:
        f = P.ppp_parse(m.packet.payload)
    except P.ParseError:
        return None
    return PppFrame(sender, f["protocol"], f["packet"], m)


def analyse(cap: P.Capture, path: str = "", secret: str | None = None) -> Conversations:
    """Groups a Capture's frames into Conversations (see the module docstring); with the tunnel
    `secret`, hidden AVPs are unhidden first (RFC 2661 §4.3)."""
    conv = Conversations(path or cap.path, cap)
    if secret is not None:
        for f in cap:
            if f["protocol"] == "l2tp" and f["packet"] is not None and f["packet"].is_control:
                f["packet"].unhide(secret)
    by_id: dict[tuple[str, int], Tunnel] = {}     # (receiver address, Tunnel ID it is addressed by)
    for f in cap:
        if f["protocol"] == "ppp":
            conv.ppp_on_link.append(f)
            continue
        if f["protocol"] == "ipv4":
            conv.ip_packets.append(f)
            continue
        if f["packet"] is None:
            conv.skipped.append((f["index"], f"malformed {f['protocol']}: {f['error']}"))
            continue
        if f["protocol"] == "l2tp":
            _l2tp(conv, by_id, f)
        else:
            _radius(conv, f)
    for t in conv.tunnels:
        _assign_roles(t)
    _find_dialouts(conv)
    return conv


def _find_dialouts(conv: Conversations) -> None:
    """Each Access-Request with Service-Type Outbound, with the tunnel the LNS opened after it."""
    for x in conv.radius:
        if x.request.packet.code != 1 or x.service_type != SERVICE_TYPE_OUTBOUND:
            continue
        d = DialOut(x, *parse_dialout_user(x.user or ""))
        if d.destination is not None:   # after the previous dial-out to the same destination, if any
            since = max((y.radius.request.time for y in conv.dialouts if y.destination == d.destination),
                        default=float("-inf"))
            d.trigger = next((f for f in conv.ip_packets if f["dst"] == d.destination
                              and since < f["time"] <= x.request.time), None)
        if x.reply is not None and x.reply.packet.code == 2:
            d.tunnel = next((t for t in conv.tunnels if any(
                m.sender == "LNS" and m.name in ("SCCRQ", "OCRQ") and m.time >= x.request.time for m in t.messages)), None)
        conv.dialouts.append(d)


def trigger_text(frame: dict | None) -> str:
    """'; trigger frame N (IPv4 TCP a > b, ports …)' for the --list line of a dial-out, or ''."""
    if frame is None:
        return ""
    ports = f", ports {frame['sport']} > {frame['dport']}" if frame.get("sport") is not None else ""
    return f"; trigger frame {frame['index']} ({frame['summary']}{ports})"


def _l2tp(conv: Conversations, by_id: dict, f: dict) -> None:
    m = f["packet"]
    src, dst = (f["src"], f["sport"]), (f["dst"], f["dport"])
    if m.is_control and m.message_name == "SCCRQ" and m.tunnel_id == 0:
        t = Tunnel(len(conv.tunnels) + 1, complete=True)
        t.initiator_addr = src
        t.peer_addr = dst
        t.ids = {src[0]: m.assigned_tunnel_id or 0, dst[0]: 0}
        conv.tunnels.append(t)
        by_id[(src[0], m.assigned_tunnel_id or 0)] = t
        t.raw = [f]
        return
    t = by_id.get((dst[0], m.tunnel_id))
    if t is None and m.is_control and m.tunnel_id == 0:
        conv.skipped.append((f["index"], f"L2TP to Tunnel ID 0 outside a set-up: {m.message_name}"))
        return
    if t is None:
        # Picked up mid-way: the same pair of addresses as a tunnel seen so far without this ID.
        t = next((x for x in conv.tunnels if not x.complete and {x.initiator_addr[0], x.peer_addr[0]} == {src[0], dst[0]}
                  and x.ids.get(dst[0], 0) == 0), None)
        if t is None:
            t = Tunnel(len(conv.tunnels) + 1, complete=False)
            t.initiator_addr, t.peer_addr = src, dst
            t.ids = {src[0]: 0, dst[0]: m.tunnel_id}
            t.raw = []
            conv.tunnels.append(t)
        t.ids[dst[0]] = m.tunnel_id
        by_id[(dst[0], m.tunnel_id)] = t
    if m.is_control and m.assigned_tunnel_id is not None and t.ids.get(src[0], 0) == 0:
        t.ids[src[0]] = m.assigned_tunnel_id
        by_id[(src[0], m.assigned_tunnel_id)] = t
    t.raw.append(f)


def _assign_roles(t: Tunnel) -> None:
    """Roles from the session messages each side sent; then Messages, sessions and PPP."""
    a, b = t.initiator_addr[0], t.peer_addr[0]
    lac = None
    for f in t.raw:
        m = f["packet"]
        if m.is_control and not m.is_zlb:
            if m.message_name in LAC_SENDS:
                lac, t.roles_from = f["src"], f"{m.message_name} sender is the LAC"
                break
            if m.message_name in LNS_SENDS:
                lac, t.roles_from = (b if f["src"] == a else a), f"{m.message_name} sender is the LNS"
                break
    if lac is None:
        lac = a
        if not t.complete:
            t.roles_from = "no SCCRQ or call message seen: the first sender taken as LAC"
    lns = b if lac == a else a
    first = {a: t.initiator_addr, b: t.peer_addr}
    t.lac, t.lns = first[lac], first[lns]
    t.lac_tunnel_id, t.lns_tunnel_id = t.ids.get(lac, 0), t.ids.get(lns, 0)
    t.initiator = "LAC" if t.initiator_addr[0] == lac else "LNS"
    ports: dict[str, set] = {lac: set(), lns: set()}
    by_session: dict[tuple[str, int], Session] = {}   # (receiver role, Session ID it is addressed by)
    for f in t.raw:
        sender = "LAC" if f["src"] == lac else "LNS"
        receiver = "LNS" if sender == "LAC" else "LAC"
        ports[f["src"]].add(f["sport"])
        ports[f["dst"]].add(f["dport"])
        msg = Message(f, sender)
        m = f["packet"]
        if m.is_data:
            s = by_session.get((receiver, m.session_id)) or _session_mid_call(t, by_session, receiver, m.session_id)
            fr = _ppp_of(msg, sender)
            if fr is not None:
                s.ppp.append(fr)
            continue
        t.messages.append(msg)
        name = m.message_name
        if name in ("ICRQ", "OCRQ") and m.session_id == 0:
            s = Session("incoming" if name == "ICRQ" else "outgoing", complete=True)
            setattr(s, "lac_session_id" if sender == "LAC" else "lns_session_id", m.assigned_session_id or 0)
            t.sessions.append(s)
            by_session[(sender, m.assigned_session_id or 0)] = s
            s.messages.append(msg)
        elif m.session_id != 0:
            s = by_session.get((receiver, m.session_id)) or _session_mid_call(t, by_session, receiver, m.session_id)
            if m.assigned_session_id is not None and getattr(s, "lac_session_id" if sender == "LAC" else "lns_session_id") == 0:
                setattr(s, "lac_session_id" if sender == "LAC" else "lns_session_id", m.assigned_session_id)
                by_session[(sender, m.assigned_session_id)] = s
            s.messages.append(msg)
    t.floated = any(len(p) > 1 for p in ports.values())
    t.raw = []


def _session_mid_call(t: Tunnel, by_session: dict, receiver: str, sid: int) -> Session:
    """A call whose set-up was not captured, addressed to `receiver` by Session ID `sid`: the
    incomplete call of this tunnel still missing that side's ID if there is one (the two directions
    of one call), else a new one."""
    attr = "lac_session_id" if receiver == "LAC" else "lns_session_id"
    s = next((x for x in t.sessions if getattr(x, attr) == 0), None)   # e.g. its Assigned Session ID was hidden
    if s is None:
        s = Session("unknown", complete=False)
        t.sessions.append(s)
    setattr(s, attr, sid)
    by_session[(receiver, sid)] = s
    return s


def _radius(conv: Conversations, f: dict) -> None:
    r = f["packet"]
    src, dst = (f["src"], f["sport"]), (f["dst"], f["dport"])
    if r.code in (1, 4, 40, 43):     # Access-/Accounting-Request, Disconnect-/CoA-Request
        for x in reversed(conv.radius):
            if is_retransmission(x.request.packet, r) and (x.client, x.server) == (src, dst):
                x.retransmissions.append(Message(f, "client"))
                return
        conv.radius.append(RadiusExchange(Message(f, "client"), None, src, dst))
        return
    for x in reversed(conv.radius):
        if x.reply is None and x.client == dst and x.server[0] == src[0] and x.request.packet.identifier == r.identifier:
            x.reply = Message(f, "server")
            return
    conv.skipped.append((f["index"], f"RADIUS reply without its request: {r.code_name} id {r.identifier}"))


def is_retransmission(earlier, later) -> bool:
    """True when RADIUS request `later` is a retransmission of `earlier` (both dlab.proto Radius): the
    same Code, Identifier and Request Authenticator (RFC 5080 §2.2.1: a retransmission is the same
    packet sent again; a new request gets a new Authenticator)."""
    return (earlier.code, earlier.identifier, bytes(earlier.authenticator)) == \
        (later.code, later.identifier, bytes(later.authenticator))


def load(path, l2tp_ports=(), radius_ports=(), secret: str | None = None) -> Conversations:
    """Reads a capture (dlab.proto.read_pcap; CaptureError when unreadable) and analyses it (hidden
    AVPs unhidden with the tunnel `secret` when given)."""
    return analyse(P.read_pcap(str(path), l2tp_ports, radius_ports), str(path), secret)


__all__ = ["load", "analyse", "is_retransmission", "to_json", "parse_dialout_user", "Conversations", "DialOut", "Tunnel", "Session", "RadiusExchange", "Message", "PppFrame"]


def to_json(conv: Conversations) -> dict:
    """The --list --json shape: tunnels (addresses, IDs, roles, sessions), RADIUS exchanges, skipped."""
    return {
        "capture": conv.path, "format": conv.capture.format, "frames": conv.capture.total,
        "interfaces": conv.capture.interfaces, "skipped_kinds": conv.capture.skipped,
        "tunnels": [{"number": t.number, "lac": list(t.lac) if t.lac else None, "lns": list(t.lns) if t.lns else None,
                     "lac_tunnel_id": t.lac_tunnel_id, "lns_tunnel_id": t.lns_tunnel_id, "initiator": t.initiator,
                     "complete": t.complete, "floated": t.floated, "roles_from": t.roles_from,
                     "messages": [f"{m.sender} {m.name}" for m in t.messages],
                     "sessions": [{"kind": s.kind, "lac_session_id": s.lac_session_id,
                                   "lns_session_id": s.lns_session_id, "complete": s.complete,
                                   "messages": [f"{m.sender} {m.name}" for m in s.messages],
                                   "ppp": [f"{f.sender} {f.name}" for f in s.ppp],
                                   "pap_user": s.pap[0] if s.pap else None} for s in t.sessions]}
                    for t in conv.tunnels],
        "radius": [{"client": list(r.client), "server": list(r.server), "request": r.request.name,
                    "identifier": r.request.packet.identifier, "user": r.user,
                    "retransmissions": len(r.retransmissions),
                    "reply": r.reply.name if r.reply else None} for r in conv.radius],
        "dialouts": [{"user": x.user, "destination": x.destination, "route_distinguisher": x.route_distinguisher,
                      "domain": x.domain, "outcome": x.outcome, "tunnel": x.tunnel.number if x.tunnel else None,
                      "trigger": x.trigger["index"] if x.trigger else None}
                     for x in conv.dialouts],
        "ppp_on_link": len(conv.ppp_on_link),
        "ip_packets": len(conv.ip_packets),
        "skipped": [list(s) for s in conv.skipped],
    }
