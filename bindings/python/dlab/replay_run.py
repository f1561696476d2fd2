"""Stateful replay of a captured L2TP conversation against a live implementation under test (DUT),
and the comparison report (what `./lab replay CAPTURE` runs; docs/replay.md).

The replay plays the side of the conversation the DUT does not play (the LAC when the DUT is an
LNS), message by message in capture order, through a ScriptedL2tp endpoint; what must follow the
live peer is rewritten, the rest is sent as captured:
  - Tunnel ID / Session ID headers: the DUT's Assigned Tunnel / Session IDs (RFC 2661 §3.1, §4.4.3,
    §4.4.4) learnt from its answers; our own Assigned IDs and Call Serial Number (§4.4.4) are the
    captured ones, the serial offset by a per-replay value;
  - Ns / Nr: the endpoint's own counters (§5.8, modulo 65 536);
  - Challenge Response (§4.4.3): recomputed as MD5(Message Type ‖ secret ‖ the DUT's Challenge)
    (§5.1.1) with --secret; the DUT's own Challenge Response is checked against our Challenge;
  - hidden AVPs (§4.3): unhidden with --secret and the captured Random Vector, hidden again with a
    new Random Vector;
  - the PPP inside data messages (RFC 2661 §3.2) is played as a PPP peer would: Configure-Requests
    with the captured options (our own Magic-Number, RFC 1661 §6.4; IPCP following the DUT's Nak,
    RFC 1332 §3.3), Ack / Nak / Reject answering the DUT's actual Configure-Request with the
    captured verdict per option type, PAP as captured (RFC 1334 §2.2), CHAP recomputed against the
    DUT's own Challenge with --ppp-secret (RFC 1994 §4.1), Echo-Reply / Terminate-Ack to the DUT's.
Every captured message of the DUT's side is awaited (deadline: the captured gap × 3 + 1 s, at least
--wait when given) and compared with the DUT's answer AVP by AVP (option by option for LCP/IPCP):
matched / differed / missing / extra / out of order, each difference with a reason; fields that are
legitimately different are ignored by the rule set (DEFAULT_RULES, changed by a --rules file).
"""
from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import socket
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from . import lab as L
from . import netns, procs
from . import proto as P
from .dialout_lab import REPO, Lnsd, NotBuilt, lnsd_argv, build_dir, control, daemon_configs, default_topology
from .wait import WaitTimeout, wait_for
from .replay import Conversations, DialOut, Message, PppFrame, Session, Tunnel, is_retransmission

EXIT_OK, EXIT_DIFFERENT, EXIT_BAD_INPUT = 0, 1, 2

# Fields that legitimately differ between two implementations (or two runs) of the same conversation:
# key "PROTOCOL:Field name" -> reason. A --rules file (YAML / JSON mapping) adds or overrides keys;
# a reason of null (None) removes a default rule so the field is compared.
DEFAULT_RULES: dict[str, str] = {
    "L2TP:Assigned Tunnel ID": "chosen by each implementation (RFC 2661 §4.4.3)",
    "L2TP:Assigned Session ID": "chosen by each implementation (RFC 2661 §4.4.4)",
    "L2TP:Call Serial Number": "chosen by the call's originator (RFC 2661 §4.4.4)",
    "L2TP:Random Vector": "random per message (RFC 2661 §4.3)",
    "L2TP:Challenge": "random per tunnel (RFC 2661 §4.4.3)",
    "L2TP:Challenge Response": "depends on the peer's random Challenge; checked separately (RFC 2661 §5.1.1)",
    "L2TP:Tie Breaker": "random (RFC 2661 §4.4.3)",
    "L2TP:Proxy Authen Challenge": "the LAC's random CHAP Challenge to its client (RFC 2661 §4.4.5)",
    "L2TP:Proxy Authen Response": "the client's answer to the LAC's random Challenge (RFC 2661 §4.4.5); the Name is compared",
    "L2TP:Host Name": "the implementation's own name (RFC 2661 §4.4.3)",
    "L2TP:Vendor Name": "the implementation's vendor (RFC 2661 §4.4.3)",
    "L2TP:Firmware Revision": "the implementation's version (RFC 2661 §4.4.3)",
    "L2TP:hidden": "hidden values differ with the Random Vector (RFC 2661 §4.3); compared after unhiding when --secret is given",
    "LCP:Magic-Number": "random per link (RFC 1661 §6.4)",
    "LCP:identifier": "chosen by the sender (RFC 1661 §5)",
    "IPCP:identifier": "chosen by the sender (RFC 1661 §5)",
    "IPCP:IP-Address": "assigned by the RADIUS server configured for the replay (RFC 1332 §3.3)",
    "CHAP:Challenge": "a random value and the authenticator's own name (RFC 1994 §4.1)",
    "CHAP:Message": "free-form text (RFC 1994 §4.1)",
    "CHAP:Response": "MD5 over the peer's random Challenge (RFC 1994 §4.1); the Name is compared",
    "PAP:Message": "free-form text (RFC 1334 §2.2.2)",
    "RADIUS:Authenticator": "random / per-packet (RFC 2865 §3)",
    "RADIUS:Identifier": "chosen by the client (RFC 2865 §3)",
    "RADIUS:Message-Authenticator": "per-packet HMAC (RFC 3579 §3.2)",
    "RADIUS:User-Password": "hidden with the Request Authenticator (RFC 2865 §5.2)",
    "RADIUS:CHAP-Challenge": "random (RFC 2865 §5.40)",
    "RADIUS:Acct-Session-Id": "chosen by the NAS (RFC 2866 §5.5)",
    "RADIUS:NAS-Port": "chosen by the NAS (RFC 2865 §5.5)",
    "RADIUS:NAS-Port-Id": "chosen by the NAS, e.g. from its own Tunnel and Session IDs (RFC 2869 §5.17)",
    "RADIUS:NAS-IP-Address": "the lab's addresses (RFC 2865 §5.4)",
    "RADIUS:NAS-Identifier": "the implementation's own name (RFC 2865 §5.32)",
    "RADIUS:Acct-Tunnel-Connection": "holds the Tunnel and Session IDs each implementation chose (RFC 2867 §4.1)",
    "RADIUS:CHAP-Password": "MD5 over the LNS's own random CHAP Challenge (RFC 2865 §5.3)",
    "RADIUS:Acct-Session-Time": "measured during the call (RFC 2866 §5.7)",
    "RADIUS:Acct-Input-Octets": "measured during the call (RFC 2866 §5.3)",
    "RADIUS:Acct-Output-Octets": "measured during the call (RFC 2866 §5.4)",
    "RADIUS:Acct-Input-Packets": "measured during the call (RFC 2866 §5.8)",
    "RADIUS:Acct-Output-Packets": "measured during the call (RFC 2866 §5.9)",
    "RADIUS:Acct-Delay-Time": "depends on retransmissions (RFC 2866 §5.2)",
    "RADIUS:Event-Timestamp": "the time of the event (RFC 2869 §5.3)",
    "RADIUS:Acct-Multi-Session-Id": "chosen by the NAS (RFC 2866 §5.11)",
}

AUTH_AVPS = {"Challenge", "Challenge Response"}   # their presence says whether a tunnel is authenticated

LCP_OPTIONS = {1: "MRU", 2: "ACCM", 3: "Authentication-Protocol", 4: "Quality-Protocol", 5: "Magic-Number",
               7: "Protocol-Field-Compression", 8: "Address-and-Control-Field-Compression", 13: "Callback",
               17: "MRRU", 19: "Endpoint-Discriminator"}
IPCP_OPTIONS = {2: "IP-Compression-Protocol", 3: "IP-Address", 129: "Primary-DNS", 130: "Primary-NBNS",
                131: "Secondary-DNS", 132: "Secondary-NBNS"}
CONFREQ, CONFACK, CONFNAK, CONFREJ, TERMREQ, TERMACK = 1, 2, 3, 4, 5, 6
ECHOREQ, ECHOREP = 9, 10


class ReplayInputError(ValueError):
    """The capture cannot be replayed as asked (no L2TP, a call picked up mid-way, a value that
    needs a secret not given, a wrong --secret…): `skipped` lists (what, why)."""

    def __init__(self, message: str, skipped: list[tuple[str, str]] | None = None):
        super().__init__(message)
        self.skipped = skipped or []


def load_rules(path: str | None) -> dict[str, str]:
    """DEFAULT_RULES updated by the mapping in `path` (YAML or JSON: {"PROTOCOL:Field": reason or
    null}). ValueError naming the file when it is not such a mapping."""
    rules = dict(DEFAULT_RULES)
    if not path:
        return rules
    with open(path) as fh:
        data = yaml.safe_load(fh)
    if not isinstance(data, dict) or not all(isinstance(k, str) and ":" in k for k in data):
        raise ValueError(f"{path}: rules must be a mapping of 'PROTOCOL:Field' to a reason (or null)")
    for k, v in data.items():
        if v is None:
            rules.pop(k, None)
        else:
            rules[k] = str(v)
    return rules


# ------------------------------------------------------------------------------------------------
# report

@dataclass
class Difference:
    """One field of one message: captured and DUT values (None when absent), the rule's reason when
    ignored (`ignored` True), else why it counts."""
    field: str
    captured: object
    dut: object
    ignored: bool
    reason: str

    def to_json(self) -> dict:
        return {"field": self.field, "captured": _jsonable(self.captured), "dut": _jsonable(self.dut),
                "ignored": self.ignored, "reason": self.reason}


@dataclass
class Item:
    """One line of the report: a captured message we sent ('sent'), played by the live PPP peer instead
    ('live'), or could not send ('skipped'); or one the DUT had to
    send ('matched', 'differed', 'missing', 'out-of-order') or sent unasked ('extra')."""
    verdict: str
    name: str
    frame: int | None = None        # captured frame number
    differences: list[Difference] = field(default_factory=list)
    reason: str = ""

    @property
    def compatible(self) -> bool:
        return self.verdict in ("matched", "sent", "out-of-order") or (
            self.verdict == "differed" and all(d.ignored for d in self.differences))

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "name": self.name, "frame": self.frame, "reason": self.reason,
                "differences": [d.to_json() for d in self.differences]}


@dataclass
class Report:
    """The result of a replay: items in order, what was skipped and why, errors, the exit status
    (0: every message the DUT had to answer was answered compatibly; 1: differences; 2: bad input)."""
    capture: str
    dut: str
    items: list[Item] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    pcap: str | None = None
    stats: dict = field(default_factory=dict)

    @property
    def exit_status(self) -> int:
        if self.errors:
            return EXIT_BAD_INPUT
        expected = [i for i in self.items if i.verdict not in ("sent", "live", "skipped", "extra")]
        if not expected:
            return EXIT_BAD_INPUT
        return EXIT_OK if all(i.compatible for i in expected) else EXIT_DIFFERENT

    def counts(self) -> dict[str, int]:
        c: dict[str, int] = {}
        for i in self.items:
            v = i.verdict if i.verdict != "differed" or not i.compatible else "matched (ignored fields differ)"
            c[v] = c.get(v, 0) + 1
        return c

    def to_json(self) -> dict:
        return {"capture": self.capture, "dut": self.dut, "exit_status": self.exit_status, "counts": self.counts(),
                "items": [i.to_json() for i in self.items], "skipped": [list(s) for s in self.skipped],
                "errors": self.errors, "pcap": self.pcap, "stats": self.stats}

    def text(self, colour: bool = False, show_ignored: bool = True) -> str:
        """Aligned text: one line per message, one indented line per difference."""
        col = {"matched": "32", "sent": "2", "live": "2", "differed": "33", "missing": "31", "extra": "35",
               "out-of-order": "36", "skipped": "2"}

        def paint(v: str, s: str) -> str:
            return f"\x1b[{col.get(v, '0')}m{s}\x1b[0m" if colour else s
        out = [f"replay of {self.capture} against {self.dut}"]
        for it in self.items:
            fr = f"#{it.frame}" if it.frame is not None else "-"
            out.append(f"  {paint(it.verdict, f'{it.verdict:<13}')} {fr:>6}  {it.name}"
                       f"{'  (' + it.reason + ')' if it.reason else ''}")
            for d in it.differences:
                if d.ignored and not show_ignored:
                    continue
                tag = "ignored" if d.ignored else "differs"
                out.append(f"  {'':13} {'':6}    {tag:<8} {d.field:<28} captured {_short(d.captured):<24} "
                           f"DUT {_short(d.dut):<24} {d.reason}")
        grouped: dict[str, list[str]] = {}
        for what, why in self.skipped:
            grouped.setdefault(why, []).append(what)
        for why, whats in grouped.items():
            what = whats[0] if len(whats) == 1 else f"{len(whats)} items ({whats[0]} … {whats[-1]})"
            out.append(f"  {'skipped':<13} {'':6}  {what}: {why}")
        for e in self.errors:
            out.append(f"  error: {e}")
        c = self.counts()
        out.append("summary: " + ", ".join(f"{k} {v}" for k, v in sorted(c.items())) +
                   f"; exit status {self.exit_status}")
        if self.pcap:
            out.append(f"live replay capture: {self.pcap}")
        return "\n".join(out)


def _jsonable(v):
    if isinstance(v, (bytes, bytearray)):
        return v.hex()
    if isinstance(v, dict):
        return {str(k): _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def _short(v) -> str:
    if v is None:
        return "(absent)"
    s = v.hex() if isinstance(v, (bytes, bytearray)) else repr(v)
    return s if len(s) <= 24 else s[:21] + "..."


# ------------------------------------------------------------------------------------------------
# comparison

def _avp_key(a) -> str:
    return a.name if a.vendor_id == 0 else f"Vendor {a.vendor_id} AVP {a.type}"


def _avp_value(a):
    if a.hidden and a.hidden_state == "undecodable":
        return ("hidden", bytes(a.wire_value))
    return a.typed if a.typed is not None else bytes(a.value)


# The ICCN's proxy LCP AVPs: LCP Configure-Request options as the LAC saw them (RFC 2661 §4.4.5).
PROXY_LCP_AVPS = {"Initial Received LCP CONFREQ", "Last Sent LCP CONFREQ", "Last Received LCP CONFREQ"}


def _compare_proxy_lcp(key: str, captured: bytes, dut: bytes, rules: dict[str, str]) -> Difference:
    """A proxy LCP AVP's options (RFC 2661 §4.4.5) compared option by option (decoded by proto/ as an
    LCP Configure-Request, RFC 1661 §6): ignored when only options the rules name differ (the
    Magic-Number, RFC 1661 §6.4), else the differing option names in the reason."""
    def options(v: bytes) -> dict[int, bytes] | None:
        frame = P.ppp_frame(P.PROTO_LCP, bytes([CONFREQ, 0]) + (4 + len(v)).to_bytes(2, "big") + v, False)
        try:
            return {t: bytes(o) for t, o in P.ppp_parse(frame)["packet"].options}
        except (P.ParseError, AttributeError):
            return None
    co, do = options(captured), options(dut)
    if co is None or do is None:
        return Difference(key, captured, dut, False, "value differs")
    names = [LCP_OPTIONS.get(t, f"option {t}") for t in sorted(set(co) | set(do)) if co.get(t) != do.get(t)]
    reasons = [rules.get(f"LCP:{n}") for n in names]
    if all(reasons):
        return Difference(key, captured, dut, True, "; ".join(f"{n}: {r}" for n, r in zip(names, reasons)))
    return Difference(key, captured, dut, False, "options differ: " + ", ".join(names))


def compare_l2tp(captured, dut, rules: dict[str, str]) -> list[Difference]:
    """AVP by AVP (RFC 2661 §4.4): every AVP of either message, in captured order then the DUT's extra
    ones; each differing one as a Difference (ignored when the rules name it, or when a hidden value
    could not be decoded)."""
    def table(m):
        t: dict[str, list] = {}
        for a in m.avps:
            if a.name == "Message Type":
                continue
            t.setdefault(_avp_key(a), []).append(a)
        return t
    ct, dt = table(captured), table(dut)
    out = []
    for key in list(ct) + [k for k in dt if k not in ct]:
        cv = [_avp_value(a) for a in ct.get(key, [])]
        dv = [_avp_value(a) for a in dt.get(key, [])]
        if cv == dv:
            continue
        c1 = cv[0] if len(cv) == 1 else (cv or None)
        d1 = dv[0] if len(dv) == 1 else (dv or None)
        if key in PROXY_LCP_AVPS and isinstance(c1, bytes) and isinstance(d1, bytes):
            out.append(_compare_proxy_lcp(key, c1, d1, rules))
            continue
        hidden = any(isinstance(v, tuple) and v and v[0] == "hidden" for v in cv + dv)
        rule = rules.get(f"L2TP:{key}") or (rules.get("L2TP:hidden") if hidden else None)
        if rule and cv and dv:
            out.append(Difference(key, c1, d1, True, rule))
        elif key in AUTH_AVPS:          # presence is behaviour: whether the tunnel is authenticated
            out.append(Difference(key, c1 if cv else None, d1 if dv else None, False,
                                  "the DUT " + ("authenticates" if dv else "does not authenticate") +
                                  " the tunnel where the captured peer " + ("did not" if dv else "did") +
                                  " (RFC 2661 §5.1.1)"))
        elif not cv:
            out.append(Difference(key, None, d1, bool(rule), rule or "sent by the DUT, not in the captured answer"))
        elif not dv:
            out.append(Difference(key, c1, None, bool(rule), rule or "in the captured answer, not sent by the DUT"))
        else:
            out.append(Difference(key, c1, d1, False, "value differs"))
    return out


def compare_ppp(captured: PppFrame, dut_protocol: int, dut_packet, rules: dict[str, str]) -> list[Difference]:
    """Option by option for LCP / IPCP Configure-* (RFC 1661 §6, RFC 1332 §3), the whole packet for the rest."""
    proto = "LCP" if captured.protocol == P.PROTO_LCP else "IPCP" if captured.protocol == P.PROTO_IPCP else None
    c, d = captured.packet, dut_packet
    out = []
    if proto and hasattr(c, "options") and getattr(c, "code", 0) in (CONFREQ, CONFACK, CONFNAK, CONFREJ):
        names = LCP_OPTIONS if proto == "LCP" else IPCP_OPTIONS
        co = {t: bytes(v) for t, v in c.options}
        do = {t: bytes(v) for t, v in d.options}
        for t in list(co) + [t for t in do if t not in co]:
            if co.get(t) == do.get(t):
                continue
            name = names.get(t, f"option {t}")
            rule = rules.get(f"{proto}:{name}")
            if rule and t in co and t in do:
                out.append(Difference(name, co[t], do[t], True, rule))
            else:
                why = "value differs" if t in co and t in do else (
                    "not in the DUT's packet" if t in co else "not in the captured packet")
                out.append(Difference(name, co.get(t), do.get(t), bool(rule), rule or why))
    elif isinstance(c, (bytes, bytearray)) or not hasattr(c, "to_bytes"):
        if bytes(c) != bytes(d):
            out.append(Difference("data", bytes(c), bytes(d), False, "octets differ"))
    elif captured.protocol == P.PROTO_CHAP and getattr(c, "code", 0) == 2:   # RFC 1994 §4.1 Response
        if c.name != d.name:
            rule = rules.get("CHAP:Name")
            out.append(Difference("Name", c.name, d.name, bool(rule), rule or "value differs"))
        if bytes(c.value) != bytes(d.value):
            rule = rules.get("CHAP:Response")
            out.append(Difference("Response", bytes(c.value), bytes(d.value), bool(rule), rule or "value differs"))
    else:
        cb, db = bytes(c.to_bytes())[4:], bytes(d.to_bytes())[4:]
        if cb != db:
            auth = "CHAP" if captured.protocol == P.PROTO_CHAP else "PAP" if captured.protocol == P.PROTO_PAP else f"0x{captured.protocol:04x}"
            what = "Challenge" if auth == "CHAP" and getattr(c, "code", 0) == 1 else "Message" if getattr(c, "code", 0) != 1 else "data"
            rule = rules.get(f"{auth}:{what}")
            out.append(Difference(what, cb, db, bool(rule), rule or "packet data differs"))
    return out


def compare_radius(captured, dut, rules: dict[str, str]) -> list[Difference]:
    """Attribute by attribute (RFC 2865 §5; Vendor-Specific sub-attributes by their dictionary
    names): every attribute of either packet, values typed by the dictionary; Identifier and
    Authenticator under the rules too."""
    def table(r):
        t: dict[str, list] = {}
        for a in r.attributes:
            t.setdefault(a.name, []).append(a.typed)
        return t
    ct, dt = table(captured), table(dut)
    ct["Identifier"], dt["Identifier"] = [captured.identifier], [dut.identifier]
    ct["Authenticator"], dt["Authenticator"] = [bytes(captured.authenticator)], [bytes(dut.authenticator)]
    out = []
    for key in list(ct) + [k for k in dt if k not in ct]:
        cv, dv = ct.get(key, []), dt.get(key, [])
        if cv == dv:
            continue
        c1 = cv[0] if len(cv) == 1 else (cv or None)
        d1 = dv[0] if len(dv) == 1 else (dv or None)
        rule = rules.get(f"RADIUS:{key}")
        why = "value differs" if cv and dv else ("not sent by the DUT" if cv else "not in the captured packet")
        out.append(Difference(key, c1, d1, bool(rule), rule or why))
    return out


def _originals(reqs: list, packet_of) -> list[tuple[object, list]]:
    """(request, its retransmissions) for each request of `reqs` (in order) that is not a
    retransmission of an earlier one (replay.is_retransmission: RFC 5080 §2.2.1)."""
    out: list[tuple[object, list]] = []
    for r in reqs:
        first = next((o for o in reversed(out) if is_retransmission(packet_of(o[0]), packet_of(r))), None)
        if first is not None:
            first[1].append(r)
        else:
            out.append((r, []))
    return out


def compare_radius_requests(captured: list, dut: list, rules: dict[str, str]) -> list[Item]:
    """The DUT's RADIUS requests (Radius objects, in order) against the captured ones (Messages) of
    the side it plays, paired in order per Code: matched / differed / missing, the DUT's unpaired
    ones extra. Retransmissions (the same request sent again, RFC 5080 §2.2.1) are counted per
    request on both sides: one 'RADIUS … retransmission' item per captured retransmission, matched
    when the DUT sent as many, missing when it gave up sooner; the DUT's further ones extra."""
    def kind(r):  # Accounting-Requests pair by Acct-Status-Type too (RFC 2866 §5.1): Start with Start
        status = next((a.typed for a in r.attributes if a.name == "Acct-Status-Type"), None)
        return (r.code, status)

    items = []
    left = _originals(list(dut), lambda r: r)
    if not any(kind(m.packet)[1] in (7, 8) for m in captured):
        # Accounting-On / -Off (RFC 2866 §5.1 values 7, 8) speak for the whole NAS at its start and
        # clean stop, not for the call: a capture of one call rarely holds them.
        nas = [r for r, _ in left if kind(r)[1] in (7, 8)]
        left = [(r, again) for r, again in left if kind(r)[1] not in (7, 8)]
        items += [Item("skipped", "RADIUS Accounting-Request (Accounting-On/Off)", None,
                       reason="the NAS's own start / stop, not part of the captured call") for _ in nas]
    for m, again in _originals(sorted(captured, key=lambda m: m.time), lambda m: m.packet):
        i = next((k for k, (r, _) in enumerate(left) if kind(r) == kind(m.packet)), None)
        if i is None:
            items.append(Item("missing", f"RADIUS {m.name}", m.index, reason="the DUT sent no such request"))
            items += [Item("missing", f"RADIUS {m.name} retransmission", a.index,
                           reason="the DUT sent no such request") for a in again]
            continue
        r, dut_again = left.pop(i)
        diffs = compare_radius(m.packet, r, rules)
        items.append(Item(_verdict(diffs), f"RADIUS {m.name}", m.index, diffs))
        sent = f"captured: sent {1 + len(again)} times, DUT: {1 + len(dut_again)} times"
        items += [Item("matched" if k < len(dut_again) else "missing", f"RADIUS {m.name} retransmission", a.index,
                       reason=sent) for k, a in enumerate(again)]
        items += [Item("extra", f"RADIUS {r.code_name} retransmission", None, reason=sent)
                  for _ in dut_again[len(again):]]
    for r, again in left:
        items += [Item("extra", f"RADIUS {r.code_name}", None, reason="sent by the DUT, not in the capture")]
        items += [Item("extra", f"RADIUS {r.code_name} retransmission", None,
                       reason="sent by the DUT, not in the capture") for _ in again]
    return items


# ------------------------------------------------------------------------------------------------
# the replay

def _verdict(diffs: list[Difference]) -> str:
    """'matched' when every difference is one the rules ignore, else 'differed'."""
    return "matched" if all(d.ignored for d in diffs) else "differed"


@dataclass
class _Arrival:
    seq: int
    message: object     # L2TP
    time: float
    before_lcp: bool = False    # an NCP packet the PPP peer discarded: LCP was not Opened (RFC 1661 §3.4)


class Replay:
    """Plays one side of a captured control connection (and its sessions) against the DUT: the LAC
    side against an LNS (default), or the LNS side against a LAC.

    conv / tunnel: the Conversations of dlab.replay.load and the Tunnel to play (default: the first
    complete one). sock: a bound UDP socket (IPv4) the replay sends from; dut: (address, port) of the
    DUT. secret: the tunnel secret (RFC 2661 §5.1.1) or None; ppp_secret: the CHAP secret; pace:
    'asap' or 'capture'; wait: the least time (s) an expected answer is awaited; rules: as
    load_rules(). before_teardown: a callable whose result goes into report.stats['before_teardown']
    just before the first CDN, StopCCN or LCP Terminate-Request we send, or at the end (e.g. the
    DUT's session table). first_wait: the least time (s) the first expected message is awaited (a
    dial-out's SCCRQ comes after the DUT's RADIUS exchange). on_expect: {message name: callable},
    each called once (after before_teardown when it is a CDN or StopCCN) just before the DUT's first
    message of that name is awaited, e.g. to make a LAC under test clear the call. run() -> Report.
    ReplayInputError when the conversation cannot be played at all.

    side: the role we play, 'LAC' (the DUT is an LNS) or 'LNS' (the DUT is a LAC), whoever opened
    the control connection: in a dial-out capture against an LNS the DUT's SCCRQ and OCRQ are
    awaited and compared and our SCCRP, OCRP, OCCN or CDN follow them as captured; against a LAC our
    SCCRQ and OCRQ go first and its answers are compared (RFC 2661 §6.1-§6.3, §6.9-§6.11). The PPP
    peer plays the PPP of our side's end of the call (the LAC side: the CPE; the LNS side: the LNS).
    """

    def __init__(self, conv: Conversations, sock: socket.socket, dut: tuple[str, int], tunnel: int | None = None,
                 session: int | None = None, secret: str | None = None, ppp_secret: str | None = None,
                 pace: str = "asap", wait: float | None = None, rules: dict[str, str] | None = None,
                 dut_name: str = "lnsd", before_teardown=None, first_wait: float = 0.0, side: str = "LAC",
                 on_expect: dict | None = None):
        if side not in ("LAC", "LNS"):
            raise ValueError(f"side {side!r}: 'LAC' or 'LNS'")
        self.side = side                             # the role we play; the DUT plays the other
        self.conv = conv
        self.tunnel = self._pick(conv, tunnel)
        self.session_filter = session
        self.secret, self.ppp_secret = secret, ppp_secret
        self.pace, self.wait = pace, wait
        self.rules = rules if rules is not None else dict(DEFAULT_RULES)
        self.sock = sock
        self.ep = P.ScriptedL2tp(sock, peer=dut)
        self.report = Report(conv.path, dut_name)
        self.serial_offset = random.SystemRandom().randrange(1, 1 << 16)
        self.magic = int.from_bytes(os.urandom(4), "big") | 1
        self.our_challenge: bytes | None = None
        self.dut_challenge: bytes | None = None
        self.dut_session: dict[int, int] = {}        # the DUT side's captured Session ID -> its live one
        self.pending: list[_Arrival] = []
        self.unanswered: list = []                   # the DUT's PPP frames not yet given to the PPP peer
        self.seq = 0
        self.taken: list[int] = []
        self.peers: dict[int, _PppPeer] = {}
        self.wire: list[tuple] = []                  # (src, dst, sport, dport, payload, time) of the live replay
        self.local = sock.getsockname()
        self.dut = dut
        self.per_message_overhead: list[float] = []
        self.before_teardown = before_teardown       # called once before we start tearing down
        self.first_wait = first_wait
        self.on_expect = dict(on_expect or {})       # DUT message name -> called once before awaiting it

    def _our_sid(self, s: Session) -> int:
        """The Session ID our side assigned in the capture (and assigns again)."""
        return s.lac_session_id if self.side == "LAC" else s.lns_session_id

    def _dut_sid(self, s: Session) -> int:
        """The Session ID the DUT's side assigned in the capture (the key of dut_session)."""
        return s.lns_session_id if self.side == "LAC" else s.lac_session_id

    @staticmethod
    def _pick(conv: Conversations, number: int | Tunnel | None) -> Tunnel:
        if isinstance(number, Tunnel):
            return number
        if number is not None:
            return conv.tunnel(number)
        for t in conv.tunnels:
            if t.complete:
                return t
        why = [(f"tunnel {t.number}", "picked up mid-way: its SCCRQ is not in the capture") for t in conv.tunnels]
        if not conv.tunnels:
            why.append((conv.path, "no L2TP control connection in the capture"))
        raise ReplayInputError(f"{conv.path}: no complete control connection to replay", why)

    # ----- the script: control messages and PPP frames in capture order -----
    def _script(self) -> list[tuple[str, object]]:
        t = self.tunnel
        steps: list[tuple[int, str, object]] = []
        sessions = t.sessions
        if self.session_filter is not None:
            if not 1 <= self.session_filter <= len(sessions):
                raise ReplayInputError(f"no session {self.session_filter} in tunnel {t.number}")
            keep = {id(sessions[self.session_filter - 1])}
        else:
            keep = {id(s) for s in sessions}
        in_session: dict[int, Session] = {}
        for s in sessions:
            for m in s.messages:
                in_session[id(m)] = s
        for m in t.messages:
            s = in_session.get(id(m))
            if m.packet.is_zlb:
                continue
            if s is not None and (id(s) not in keep or not s.complete):
                if not s.complete:
                    self.report.skipped.append((f"frame {m.index} {m.name}", "its call was picked up mid-way"))
                continue
            steps.append((m.index, "l2tp", m))
        for s in sessions:
            if id(s) not in keep:
                continue
            if not s.complete:
                if s.ppp:
                    self.report.skipped.append((f"{len(s.ppp)} PPP frames of a call picked up mid-way",
                                                "its ICRQ / OCRQ is not in the capture"))
                continue
            for f in s.ppp:
                steps.append((f.message.index, "ppp", (s, f)))
        steps.sort(key=lambda x: x[0])
        return [(k, o) for _, k, o in steps]

    # ----- DUT arrivals -----
    def _poll(self, within: float) -> None:
        """Takes what the DUT sent, waiting up to `within` s for the first datagram (not longer)."""
        try:
            first = [self.ep.expect("any", within=within)]
        except P.ExpectTimeout:
            return
        for m in first + self.ep.drain(within=0):
            self.wire.append((self.dut[0], self.local[0], self.dut[1], self.local[1], m.to_bytes(), time.time()))
            if m.is_zlb:          # acknowledgements only (RFC 2661 §5.8): the endpoint's bookkeeping
                continue
            self.seq += 1
            a = _Arrival(self.seq, m, time.monotonic())
            self.pending.append(a)
            if m.is_data:
                self.unanswered.append(a)
        self._answer_ppp()

    def _answer_ppp(self) -> None:
        """Gives the DUT's PPP frames to the live PPP peer of their call, in arrival order. A frame
        whose call's DUT Session ID is not learnt yet waits here: under load the DUT's first LCP
        Configure-Request can arrive in one batch with the OCRP / ICRP that assigns it (RFC 2661
        §4.4.4), and the peer can only answer once it can address the call (else it never answers it,
        and the DUT's Restart timer, RFC 1661 §4.6, shows up as a late, extra frame)."""
        keep = []
        for a in self.unanswered:
            s = next((x for x in self.tunnel.sessions if self._our_sid(x) == a.message.session_id), None)
            if s is not None and self.dut_session.get(self._dut_sid(s)) is None:
                keep.append(a)
            elif s is not None:
                a.before_lcp = self._peer(s).on_dut(a.message) == "before-lcp"
        self.unanswered = keep

    def _take(self, pred, within: float, whole: bool = False):
        """The first pending arrival `pred` accepts (its L2TP message, or the _Arrival with `whole`),
        polling the DUT up to `within` s; None when none came."""
        deadline = time.monotonic() + within
        while True:
            for i, a in enumerate(self.pending):
                if pred(a if whole else a.message):
                    del self.pending[i]
                    self.taken.append(a.seq)
                    return a
            left = deadline - time.monotonic()
            if left <= 0:
                return None
            self._poll(min(left, 0.05))

    def _deadline(self, gap: float) -> float:
        d = max(2.0, gap * 3 + 1.0)
        if not self.taken:
            d = max(d, self.first_wait)
        return max(d, self.wait) if self.wait is not None else d

    # ----- sending -----
    def _send(self, msg, auto_seq: bool = True) -> None:
        t0 = time.perf_counter()
        wire = self.ep.send(msg, auto_seq=auto_seq, fill_tunnel_id=False)
        self.per_message_overhead.append(time.perf_counter() - t0)
        self.wire.append((self.local[0], self.dut[0], self.local[1], self.dut[1], bytes(wire), time.time()))

    def _rewrite(self, m: Message):
        """A copy of captured message `m` made to follow the live DUT (see the module docstring).
        Returns (message, None) or (None, why it cannot be sent)."""
        cap = m.packet
        name = cap.message_name
        out = P.L2TP.control(cap.message_type)
        out.clear_avps()
        hidden_any = False
        if any(a.hidden for a in cap.avps):
            if self.secret is None:
                return None, "it carries hidden AVPs (RFC 2661 §4.3): give --secret"
            cap = cap.copy()
            cap.unhide(self.secret)
            bad = [a.name for a in cap.avps if a.hidden and a.hidden_state != "decoded"]
            if bad:
                return None, f"hidden AVPs {bad} do not unhide with --secret: {[a.undecodable_reason for a in cap.avps if a.hidden]}"
        for a in cap.avps:
            if a.vendor_id == 0 and a.name == "Random Vector" and any(x.hidden for x in cap.avps):
                continue
            value = bytes(a.value)
            if a.vendor_id == 0 and a.name == "Challenge Response":
                if self.dut_challenge is None:      # not challenged: nothing to answer (RFC 2661 §4.4.3)
                    self.report.skipped.append((f"frame {m.index} {name} Challenge Response",
                                                "left out: the DUT sent no Challenge"))
                    continue
                if self.secret is None:
                    return None, "a Challenge Response to recompute (RFC 2661 §5.1.1): give --secret"
                value = bytes(P.challenge_response(cap.message_type, self.secret, self.dut_challenge))
            elif a.vendor_id == 0 and a.name == "Challenge":
                self.our_challenge = value
            elif a.vendor_id == 0 and a.name == "Call Serial Number" and len(value) == 4:
                value = ((int.from_bytes(value, "big") + self.serial_offset) & 0xFFFFFFFF).to_bytes(4, "big")
            out.add_avp(a.type, value, mandatory=a.mandatory, hidden=a.hidden, vendor_id=a.vendor_id,
                        reserved=a.reserved_bits)
            hidden_any |= a.hidden
        if hidden_any:
            out.set_hiding(self.secret)
        if name == "SCCRQ":
            out.tunnel_id = 0
        else:
            out.tunnel_id = self.ep.peer_tunnel_id
        if cap.session_id:
            sid = self.dut_session.get(cap.session_id)
            if sid is None:
                return None, f"Session ID {cap.session_id}: the DUT assigned none for it"
            out.session_id = sid
        return out, None

    @staticmethod
    def _expected_pred(m: Message):
        """Matches the DUT's control message of the captured one's type (RFC 2661 §6)."""
        name = m.name
        return lambda x: x.is_control and not x.is_zlb and x.message_name == name

    def _on_control(self, m: Message, prev_time: float) -> None:
        if m.sender == self.side and m.name in ("CDN", "StopCCN"):
            self._snapshot()
        if m.sender == self.side:
            out, why = self._rewrite(m)
            if out is None:
                self.report.items.append(Item("skipped", m.name, m.index, reason=why))
                if m.name in ("SCCRQ", "SCCCN", "ICRQ", "ICCN", "OCRP", "OCCN"):
                    raise ReplayInputError(f"frame {m.index} {m.name}: {why}", [(f"frame {m.index} {m.name}", why)])
                return
            self._send(out)
            self.report.stats.setdefault("sent_at", {}).setdefault(m.name, time.monotonic())
            self.report.items.append(Item("sent", m.name, m.index))
            return
        hook = self.on_expect.pop(m.name, None)
        if hook is not None:
            if m.name in ("CDN", "StopCCN"):
                self._snapshot()
            hook()
        got = self._take(self._expected_pred(m), self._deadline(m.time - prev_time))
        if got is None:
            self.report.items.append(Item("missing", m.name, m.index, reason="the DUT did not send it in time"))
            return
        x = got.message
        captured = m.packet
        if self.secret is not None:      # compare hidden values in clear (RFC 2661 §4.3)
            x = x.copy()
            x.unhide(self.secret)
            captured = captured.copy()
            captured.unhide(self.secret)
        diffs = compare_l2tp(captured, x, self.rules)
        if x.challenge is not None:
            self.dut_challenge = bytes(x.challenge)
        if x.challenge_response is not None and self.our_challenge is not None and self.secret is not None:
            want = bytes(P.challenge_response(x.message_type, self.secret, self.our_challenge))
            if bytes(x.challenge_response) != want:
                self.report.errors.append(f"the DUT's {x.message_name} Challenge Response does not match --secret "
                                          f"(RFC 2661 §5.1.1): wrong --secret?")
        if captured.assigned_session_id is not None and x.assigned_session_id is not None:
            self.dut_session[captured.assigned_session_id] = x.assigned_session_id
        self.report.items.append(Item(_verdict(diffs), m.name, m.index, diffs))
        self._answer_ppp()       # the call's PPP frames that came with or before this message

    def _snapshot(self) -> None:
        if self.before_teardown is not None:
            hook, self.before_teardown = self.before_teardown, None
            self.report.stats["before_teardown"] = hook()

    # ----- PPP: a reactive peer seeded from the capture -----
    def _ppp_send(self, s: Session, protocol: int, pkt) -> None:
        self._ppp_send_raw(s, protocol, bytes(pkt.to_bytes()))

    def _ppp_send_raw(self, s: Session, protocol: int, information: bytes) -> None:
        sid = self.dut_session.get(self._dut_sid(s))
        msg = P.L2TP.data(tunnel_id=self.ep.peer_tunnel_id, session_id=sid, payload=P.ppp_frame(protocol, information, True))
        self._send(msg, auto_seq=False)

    def _peer(self, s: Session) -> "_PppPeer":
        if id(s) not in self.peers:
            self.peers[id(s)] = _PppPeer(self, s)
        return self.peers[id(s)]

    def _on_ppp(self, s: Session, f: PppFrame, prev_time: float) -> None:
        if self.dut_session.get(self._dut_sid(s)) is None:
            self.report.items.append(Item("skipped", f"PPP {f.name}", f.message.index,
                                          reason="the DUT assigned no session for this call"))
            return
        peer = self._peer(s)
        code = getattr(f.packet, "code", None)
        if f.protocol == P.PROTO_IPV4:
            self.report.skipped.append((f"frame {f.message.index} PPP IPv4", "user data is not replayed"))
            return
        if f.sender == self.side:
            if f.protocol == P.PROTO_LCP and code == TERMREQ:
                self._snapshot()
            what = peer.on_script(f)
            verdict = "sent" if what is True else "live" if what.startswith("played live") else "skipped"
            self.report.items.append(Item(verdict, f"PPP {f.name}", f.message.index, reason="" if what is True else what))
            return

        # An NCP packet our peer discarded before LCP was Opened pairs only with a captured one that
        # also came before the captured peer's LCP was Opened (the CPE's IPCP in flight while the
        # LNS restarts LCP is a race of each recording, RFC 1661 §3.4).
        before_lcp = id(f) in _before_lcp_opened(s, self.side)

        def pred(a) -> bool:
            x = a.message
            if not x.is_data or a.before_lcp != before_lcp:
                return False
            try:
                d = P.ppp_parse(x.payload)
            except P.ParseError:
                return False
            return d["protocol"] == f.protocol and getattr(d["packet"], "code", None) == code
        got = self._take(pred, self._deadline(f.message.time - prev_time), whole=True)
        if got is None:
            self.report.items.append(Item("missing", f"PPP {f.name}", f.message.index,
                                          reason="the DUT did not send it in time"))
            return
        d = P.ppp_parse(got.message.payload)
        diffs = compare_ppp(f, d["protocol"], d["packet"], self.rules)
        self.report.items.append(Item(_verdict(diffs), f"PPP {f.name}", f.message.index, diffs))

    # ----- run -----
    def run(self) -> Report:
        """Plays the script; the DUT's messages not matched to the capture are reported as 'extra'."""
        script = self._script()
        prev = None
        started = time.monotonic()
        t0 = None
        try:
            for kind, obj in script:
                tm = obj.time if kind == "l2tp" else obj[1].message.time
                if self.pace == "capture" and t0 is not None:
                    delay = (tm - t0) - (time.monotonic() - started)
                    if delay > 0:
                        self._poll(delay)
                if t0 is None:
                    t0 = tm
                gap = tm - (prev if prev is not None else tm)
                if kind == "l2tp":
                    self._on_control(obj, tm - gap)
                else:
                    self._on_ppp(obj[0], obj[1], tm - gap)
                prev = tm
                if self.report.errors:
                    break
            self._poll(0.2)
            self._snapshot()
        except ReplayInputError as e:
            self.report.errors.append(str(e))
            self.report.skipped.extend(e.skipped)
        for a in self.pending:
            if a.message.is_zlb:
                continue
            name = a.message.message_name if a.message.is_control else "data"
            if not a.message.is_control:
                try:
                    d = P.ppp_parse(a.message.payload)
                    if d["protocol"] == P.PROTO_IPV4:     # user data is neither replayed nor compared
                        self.report.skipped.append(("the DUT's PPP IPv4", "user data is not compared"))
                        continue
                    name = f"PPP 0x{d['protocol']:04x} {getattr(d['packet'], 'code_name', '')}".strip()
                except P.ParseError:
                    pass
            why = "sent by the DUT, not in the capture"
            if a.before_lcp:
                why = ("sent by the DUT before LCP was Opened, discarded by the PPP peer (RFC 1661 §3.4): "
                       "an NCP packet in flight as LCP restarted")
            self.report.items.append(Item("extra", name, None, reason=why))
        self._mark_out_of_order()
        self.report.stats |= {"messages_sent": sum(1 for i in self.report.items if i.verdict == "sent"),
                             "seconds": round(time.monotonic() - started, 3),
                             "send_overhead_ms_mean": round(1e3 * sum(self.per_message_overhead) /
                                                            max(1, len(self.per_message_overhead)), 4)}
        return self.report

    def _mark_out_of_order(self) -> None:
        """A DUT message taken after one that arrived later (its answers swapped) is 'out-of-order'."""
        best = 0
        k = 0
        for it in self.report.items:
            if it.verdict in ("matched", "differed"):
                seq = self.taken[k]
                k += 1
                if seq < best:
                    it.reason = (it.reason + "; " if it.reason else "") + "arrived before an earlier-expected message"
                    if it.verdict == "matched":
                        it.verdict = "out-of-order"
                best = max(best, seq)


# ------------------------------------------------------------------------------------------------
# against a fresh lab

LAB_LAC, LAB_LNS = "198.51.100.2", "198.51.100.1"   # scenarios/topologies/default.yaml, link `core`
LAB_HOME = "203.0.113.10"                            # the home site behind lnsd's virtual router `default`


def lns_behaviour(t: Tunnel, ppp_secret: str | None = None, radius: list | None = None) -> dict:
    """What the captured LNS did, to configure the DUT alike: 'mode' ('lcp-renegotiation' when it sent
    its own LCP Configure-Request, 'mandatory-chap' when it challenged with CHAP without its own LCP
    or after an Access-Request for the call's user in `radius` (RADIUS exchanges of the capture),
    else 'proxy': the JunosE incoming-call modes), 'authentication'
    ('pap' / 'chap' from its LCP Authentication-Protocol option, RFC 1661 §6.2), 'hide_avps' (it hid
    AVPs, RFC 2661 §4.3), 'framed_ip' (the
    address its IPCP Configure-Nak gave, RFC 1332 §3.3, or None) and 'users' ([(PAP Peer-ID,
    Password)] of the calls, and (CHAP Name, `ppp_secret`) when a CHAP Response was captured)."""
    out = {"mode": "proxy", "authentication": "chap", "framed_ip": None, "users": [],
           "hide_avps": any(a.hidden for m in t.messages if m.sender == "LNS" for a in m.packet.avps)}
    for s in t.sessions:
        if s.pap and s.pap not in out["users"]:
            out["users"].append(s.pap)
        chap = next((f.packet.name for f in s.ppp if f.sender == "LAC" and f.protocol == P.PROTO_CHAP
                     and getattr(f.packet, "code", 0) == 2), None)
        for m in s.messages:      # proxy CHAP of the ICCN (RFC 2661 §4.4.5: Proxy Authen Type 2)
            if m.name == "ICCN" and m.packet.get("Proxy Authen Type") == 2 and chap is None:
                chap = m.packet.get("Proxy Authen Name")
        if chap and ppp_secret is not None and (chap, ppp_secret) not in out["users"]:
            out["users"].append((chap, ppp_secret))
        for f in s.ppp:
            if f.sender != "LNS":
                continue
            code = getattr(f.packet, "code", None)
            if f.protocol == P.PROTO_LCP and code == CONFREQ:
                out["mode"] = "lcp-renegotiation"
                auth = dict((t_, bytes(v)) for t_, v in f.packet.options).get(3)
                if auth:
                    out["authentication"] = "pap" if auth[:2] == b"\xc0\x23" else "chap"
            if f.protocol == P.PROTO_IPCP and code == CONFNAK and out["framed_ip"] is None:
                a = dict((t_, bytes(v)) for t_, v in f.packet.options).get(3)
                if a and len(a) == 4:
                    out["framed_ip"] = socket.inet_ntoa(a)
    lns_ppp = [f for s in t.sessions for f in s.ppp if f.sender == "LNS"]
    challenge = next((f for f in lns_ppp if f.protocol == P.PROTO_CHAP and getattr(f.packet, "code", 0) == 1), None)
    users = {u for u, _ in out["users"]}
    verified_first = challenge is not None and any(
        x.request.packet.code == 1 and x.user in users and x.request.time < challenge.message.time for x in radius or [])
    if challenge is not None and (out["mode"] == "proxy" or verified_first):
        # its own CHAP Challenge without LCP of its own, or after verifying the proxy authentication
        # through RADIUS first: JunosE's mandatory-chap
        out["mode"] = "mandatory-chap"
    elif out["users"] and out["mode"] == "proxy":
        out["authentication"] = "pap"
    return out


def radius_reply_items(reply) -> list[str]:
    """The attributes of a captured Access-Accept as FreeRADIUS users-file reply items ("Name = value",
    RFC 2865 §5), so the lab's server answers as the captured one did. Left out: per-packet ones
    (Message-Authenticator, State, EAP-Message, Proxy-State), vendor-specific and tagged attributes;
    octets are written as 0x hex."""
    items = []
    for a in reply.attributes:
        if a.is_vsa or a.tag or a.name in ("Message-Authenticator", "State", "EAP-Message", "Proxy-State"):
            continue
        v = a.typed
        if isinstance(v, (bytes, bytearray)):
            items.append(f"{a.name} = 0x{bytes(v).hex()}")
        elif isinstance(v, (int, str)) and not isinstance(v, bool):
            items.append(f"{a.name} = {v}" if isinstance(v, int) else f"{a.name} = {json.dumps(v)}")
    return items


def dialout_reply_items(reply, lac: str | None, secret: str | None) -> tuple[list[str], list[tuple[str, str]]]:
    """A captured dial-out Access-Accept / -Reject (JunosE "L2TP Dial-Out" Table 75) as FreeRADIUS
    users-file reply items, tagged attributes with their tag (`Tunnel-Type:1 = 3`, RFC 2868 §3) and
    vendor-specific ones by dictionary name (`ERX-Dial-Out-Number = "5551001"`): the
    Tunnel-Server-Endpoint that was the captured LAC (`lac`) becomes the lab's LAC, Tunnel-Password
    (encrypted with the captured server's secret, RFC 2868 §3.5) becomes `secret`. Returns (items,
    [(attribute, why left out)]) — per-packet attributes and ones the dictionary does not name."""
    items, left = [], []
    for a in reply.attributes:
        if a.name in ("Message-Authenticator", "State", "EAP-Message", "Proxy-State"):
            continue
        name = a.name + (f":{a.tag}" if a.tag else "")
        if a.name.startswith(("Attr-", "Vendor-")):
            left.append((a.name, "not in the FreeRADIUS dictionary"))
            continue
        if a.name == "Tunnel-Password":
            if secret is None:
                left.append((name, "encrypted with the captured server's secret: give --secret"))
            else:
                items.append(f"{name} = {json.dumps(secret)}")
            continue
        v = a.typed
        if a.name == "Tunnel-Server-Endpoint" and lac is not None and v == lac:
            v = LAB_LAC
        if isinstance(v, (bytes, bytearray)):
            items.append(f"{name} = 0x{bytes(v).hex()}")
        elif isinstance(v, int) and not isinstance(v, bool):
            items.append(f"{name} = {v}")
        elif isinstance(v, str):
            items.append(f"{name} = {json.dumps(v)}")
    return items, left


def _lns_users(how: dict, exchanges: list) -> list[dict]:
    """FreeRADIUS users (topology `radius:` entries) for the PPP users of lns_behaviour `how`, each
    answered with the captured Access-Accept of its exchange in `exchanges` (radius_reply_items),
    else a Framed-User with the captured LNS's IPCP address (or 198.18.0.2)."""
    replies = {x.user: radius_reply_items(x.reply.packet) for x in exchanges
               if x.reply is not None and x.reply.packet.code == 2 and x.request.packet.code == 1}
    return [{"name": user, "check": [f"Cleartext-Password := {json.dumps(password)}"],
             "reply": replies.get(user) or ["Service-Type = Framed-User", "Framed-Protocol = PPP",
                                            f"Framed-IP-Address = {how['framed_ip'] or '198.18.0.2'}"]}
            for user, password in how["users"]]


def _lnsd_binary_dir() -> Path:
    bdir = next((Path(d) for d in (os.environ.get("DL_BUILD_DIR"), REPO / "build", REPO / "build-int")
                 if d and (Path(d) / "lns/lnsd/lnsd").exists()), None)
    if bdir is None:
        raise NotBuilt("lnsd is not built (run ci/build lnsd or set DL_BUILD_DIR)")
    return bdir


def _radius_sent(lab, nas: str, ports: list[int]) -> list:
    """The DUT's RADIUS Access- / Accounting-Requests on the lab's `aaa` link (after teardown:
    tcpdump has flushed it), in order."""
    aaa = lab.pcaps.get("aaa")
    return [f["packet"] for f in (P.read_pcap(str(aaa), radius_ports=ports) if aaa and aaa.exists() else [])
            if f["protocol"].startswith("radius") and f["packet"] is not None and f["src"] == nas
            and f["packet"].code in (1, 4)]


GOLDEN_FILTER = "udp port 1701 or udp port 1812 or udp port 1813"   # L2TP, RADIUS authentication and accounting


@contextlib.contextmanager
def golden_capture(lab, name: str, host: str, dest: Path):
    """Records a golden capture (pcaps/README.md): tcpdump in lab host `host` on every interface
    (LINUX_SLL2) for GOLDEN_FILTER while the block runs, then the file is copied to `dest`.
    AssertionError, and nothing copied, when tcpdump reports packets dropped by the kernel (a busy
    machine): a golden capture must hold the whole conversation."""
    out = lab.run_dir / f"{name}.pcap"
    cap = lab.start(name, host, ["tcpdump", "-n", "-U", "--immediate-mode", "-B", "8192", "-Z", "root", "-s", "0",
                                 "-i", "any", "-w", str(out), GOLDEN_FILTER], ready="listening on")
    try:
        yield out
    finally:
        procs.stop(cap)
        lab.procs.remove(cap)
    counts = re.findall(r"(\d+) packets? dropped by kernel", Path(cap.log).read_text())
    if not counts or int(counts[-1]):
        raise AssertionError(f"{name}: tcpdump dropped {counts[-1] if counts else 'an unknown number of'} packets "
                             f"(see {cap.log}); record again")
    shutil.copy(out, dest)


def _save_live(report: Report, lab, wire: list) -> Path:
    """Writes the live replay's datagrams to <run folder>/replay/replay.pcap, notes it and the lab in
    the report; returns that folder."""
    out = lab.run_dir / "replay"
    out.mkdir(parents=True, exist_ok=True)
    P.write_pcap(str(out / "replay.pcap"), wire)
    report.pcap = str(out / "replay.pcap")
    report.stats["lab"] = {"runid": lab.runid, "run_dir": str(lab.run_dir)}
    return out


def _write_report(report: Report, out: Path) -> Report:
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report.to_json(), indent=1))
    (out / "report.txt").write_text(report.text() + "\n")
    return report


def requests_of(exchanges: list) -> list[Message]:
    """Every captured request of `exchanges` (replay.RadiusExchange), retransmissions included."""
    return [m for x in exchanges for m in [x.request, *x.retransmissions]]


def retransmission_interval(x) -> float | None:
    """The captured client's retransmission interval of RADIUS exchange `x` in seconds (the median
    gap between its sends, clamped to lnsd's radius-timeout range 0.1..60 s), or None when the
    request was sent once."""
    times = [m.time for m in [x.request, *x.retransmissions]]
    if len(times) < 2:
        return None
    gaps = sorted(b - a for a, b in zip(times, times[1:]))
    return min(60.0, max(0.1, gaps[len(gaps) // 2]))


def trigger_packet(x: DialOut, dest: str) -> tuple[Item, bytes]:
    """The packet that triggers lnsd's dial-out `x` towards `dest`, and its report line ('sent'):
    the capture's own trigger packet (DialOut.trigger: whatever its protocol) with its source
    rewritten to the lab's `home` host and its destination to `dest`, checksums recomputed
    (TriggerInjector.rewrite: dl::proto::rewrite_ipv4); else, when the capture holds no such packet,
    an ICMP Echo from `home` to `dest` stands in (JunosE "L2TP Dial-Out": any packet routed into the
    target triggers alike)."""
    if x.trigger is not None:
        pkt = P.TriggerInjector.rewrite(x.trigger["payload"], LAB_HOME, dest)
        return Item("sent", f"trigger {x.trigger['summary'].split(' ', 2)[1]} to {dest}", x.trigger["index"],
                    reason=f"the captured trigger packet ({x.trigger['summary']}), from {LAB_HOME}"), pkt
    return Item("sent", f"trigger ICMP Echo to {dest}", None,
                reason=f"stand-in: no IPv4 packet towards {x.destination or dest} before the Access-Request "
                       "in the capture"), P.TriggerInjector.icmp_echo(LAB_HOME, dest)


def pick_dialout(conv: Conversations, tunnel: int | None) -> DialOut | None:
    """The dial-out to replay: the one whose tunnel is `tunnel`, else (no `tunnel` given) the first
    dial-out of the capture; None when the replay is not of a dial-out."""
    if tunnel is None:
        return conv.dialouts[0] if conv.dialouts else None
    return next((x for x in conv.dialouts if x.tunnel is not None and x.tunnel.number == tunnel), None)


def replay_dialout_in_lab(conv: Conversations, x: DialOut, session: int | None = None, secret: str | None = None,
                          ppp_secret: str | None = None, radius: str = "freeradius", pace: str = "asap",
                          wait: float | None = None, rules: dict[str, str] | None = None, dut: str = "lnsd",
                          radius_secret: str = "home-secret", trigger: str | None = None) -> Report:
    """Replays a captured dial-out against lnsd in a fresh lab (JunosE "L2TP Dial-Out"): lnsd gets a
    dial-out target for the destination of the captured User-Name (`[RD/]address@domain`, its route
    distinguisher and domain; `trigger` overrides the address, and the home server then knows the
    User-Name lnsd builds for it) and its LCP authentication; the capture's trigger packet (or an
    ICMP Echo standing in, trigger_packet) is sent from the lab's `home` host to that address;
    lnsd's Access-Request is answered from the capture — by FreeRADIUS with the captured reply's attributes
    (dialout_reply_items: the captured LAC's endpoint becomes the lab's LAC, Tunnel-Password the
    tunnel `secret`) or, radius='capture', by a scripted server re-signing the captured reply with
    `radius_secret` (its Tunnel-Password decrypted with that secret and the captured request's
    Authenticator, encrypted again for lnsd's request, RFC 2868 §3.5); the LAC side (SCCRP, OCRP,
    OCCN or CDN as captured, the CPE's PPP) is played from the lab's `lac` host on UDP 1701 by
    Replay. The CPE's PPP authentication at the LNS RADIUS server is configured as for incoming
    calls. When the captured request got no reply (Table 75's RADIUS timeout) the home server stays
    silent (FreeRADIUS Do-Not-Respond, or no captured reply to re-sign) and lnsd's radius-timeout is
    the captured retransmission interval (retransmission_interval). When lnsd opened no tunnel in
    the capture (a denied dial-out), any L2TP it sends within the wait (at least the captured
    retransmissions' span plus 3 s) is reported as extra. lnsd's RADIUS requests, retransmissions
    included, are compared with the captured ones (compare_radius_requests).
    Writes report.json / report.txt / replay.pcap into <run folder>/replay/; nothing is left."""

    dest = trigger or x.destination
    if dest is None:
        raise ReplayInputError(f"{conv.path}: the dial-out User-Name {x.user!r} names no destination address",
                               [(f"frame {x.radius.request.index} Access-Request", "give --trigger ADDRESS")])
    t = x.tunnel
    how = lns_behaviour(t, ppp_secret, conv.radius) if t is not None else \
        {"authentication": "chap", "users": [], "hide_avps": False, "framed_ip": None}
    names = {u for u, _ in how["users"]}
    lns_exchanges = [r for r in conv.radius if r is not x.radius and r.request.packet.code == 1 and r.user in names]
    captured = sorted(requests_of([x.radius] + lns_exchanges), key=lambda m: m.time)
    lac = t.lac[0] if t is not None and t.lac else None
    silent = x.radius.reply is None     # Table 75's RADIUS timeout: the home server stays silent
    accept = not silent and x.radius.reply.packet.code == 2
    # the User-Name lnsd sends for the trigger (JunosE "L2TP Dial-Out", "Access-Request Message")
    live_user = x.user if trigger is None else \
        f"{x.route_distinguisher + '/' if x.route_distinguisher else ''}{dest}@{x.domain or 'replay.invalid'}"
    home_reply, left_out = dialout_reply_items(x.radius.reply.packet, lac, secret) if not silent else ([], [])
    # FreeRADIUS's `Response-Packet-Type := Do-Not-Respond` (its policy.d/control `do_not_respond`)
    # keeps the home server silent for a captured request that got no reply.
    check = ["Service-Type == Outbound-User", f"Auth-Type := {'Accept' if accept or silent else 'Reject'}"] + \
        (["Response-Packet-Type := Do-Not-Respond"] if silent else [])

    def users(raw: dict) -> None:
        raw["radius"]["home"]["users"] = [{"name": live_user, "check": check, "reply": home_reply}]
        raw["radius"]["lns"]["users"] = _lns_users(how, lns_exchanges)

    bdir = _lnsd_binary_dir()
    with L.Lab(default_topology(users), capture=True) as lab:
        run = lab.run_dir
        cfg = daemon_configs(run)["lnsd"]
        vr = dict(cfg["virtual-routers"][0])
        cfg["virtual-routers"] = [vr]
        peer = {"address": LAB_LAC, "trusted": True}
        if secret:
            peer |= {"secret": secret, "hide-avps": bool(how["hide_avps"])}
        cfg["peers"] = [peer]
        cfg["shutdown-wait"] = "1s"
        target = {"virtual-router": vr["name"], "prefix": f"{dest}/32", "domain": x.domain or "replay.invalid",
                  "profile": "isdn"}
        if x.route_distinguisher:
            target["route-distinguisher"] = x.route_distinguisher
        cfg["dialout"]["targets"] = [target]
        cfg["dialout"]["profiles"]["isdn"]["authentication"] = how["authentication"]
        timeout = retransmission_interval(x.radius)
        if timeout is not None:     # lnsd retransmits as often as the captured LNS did (RFC 5080 §2.2.1)
            cfg.setdefault("timers", {})["radius-timeout"] = f"{round(timeout * 1000)}ms"
        scripted = None
        if radius == "capture":
            scripted = _CapturedRadius(lab, [x.radius] + lns_exchanges, radius_secret, lac=lac)
            srv = {"address": _CapturedRadius.ADDRESS, "port": scripted.port, "secret": radius_secret}
            vr["radius"] = {"authentication": [srv]}
            vr["lns-radius"] = {"authentication": [srv]}
        (run / "lnsd.yaml").write_text(yaml.safe_dump(cfg))
        d = Lnsd(lab, bdir)
        proc = lab.start("lnsd", "lns", lnsd_argv(bdir, "--config", str(run / "lnsd.yaml"), "--control", d.sock,
                                                  "--events", str(d.events)), ready="lnsd ready")
        sock = netns.socket_in(lab.ns("lac"))
        raw = netns.socket_in(lab.ns("home"), socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
        try:
            sock.bind((LAB_LAC, P.L2TP_PORT))

            def dut_state() -> dict:
                try:
                    return {"tunnels": d.ctl("show", "l2tp", "tunnel"), "ppp": d.ctl("show", "ppp", "detail"),
                            "dialout": d.ctl("show", "l2tp", "dial-out", "session")}
                except Exception as e:  # the report says why the snapshot is missing
                    return {"error": f"lnsctl: {e}"}
            trig_item, trig_packet = trigger_packet(x, dest)
            P.TriggerInjector(raw).send(trig_packet)
            trig_wire = {"ip": trig_packet, "time": time.time()}
            if t is not None:
                r = Replay(conv, sock, (LAB_LNS, P.L2TP_PORT), tunnel=t, session=session, secret=secret,
                           ppp_secret=ppp_secret, pace=pace, wait=wait, rules=rules, dut_name=dut,
                           before_teardown=dut_state, first_wait=10.0)
                report = r.run()
                wire = r.wire
            else:
                # the captured retransmissions are awaited too: from the first send to the last one
                # plus an interval (the DUT gives up then), then the 3 s for any L2TP
                span = (x.radius.retransmissions[-1].time - x.radius.request.time + (timeout or 0.0)
                        if x.radius.retransmissions else 0.0)
                report, wire = _expect_no_l2tp(conv, sock, dut, max(3.0, wait or 0.0, span + 3.0))
                report.stats["before_teardown"] = dut_state()
            report.items.insert(0, trig_item)
            out = _save_live(report, lab, [trig_wire, *wire])
            report.skipped += [(f"home RADIUS reply {a}", why) for a, why in left_out]
            report.stats["lnsd"] = {"dialout_target": target, "trigger": dest, "authentication": how["authentication"],
                                    "radius_timeout": cfg.get("timers", {}).get("radius-timeout"),
                                    "hide_avps": bool(peer.get("hide-avps")), "radius_users": [u for u, _ in how["users"]]}
            if scripted is not None:
                report.stats["radius_capture"] = scripted.history()
        finally:
            sock.close()
            raw.close()
            procs.stop(proc)
            if scripted is not None:
                scripted.stop()
    sent = _radius_sent(lab, vr["nas-ip-address"], [scripted.port] if scripted is not None else [])
    report.items += compare_radius_requests(captured, sent, rules if rules is not None else DEFAULT_RULES)
    return _write_report(report, out)


def _expect_no_l2tp(conv: Conversations, sock: socket.socket, dut: str, within: float) -> tuple[Report, list]:
    """A dial-out whose capture holds no tunnel: every L2TP message the DUT sends within `within` s
    is 'extra'. Returns (report, the datagrams for the live pcap)."""
    report = Report(conv.path, dut)
    ep = P.ScriptedL2tp(sock, peer=(LAB_LNS, P.L2TP_PORT))
    wire = []
    deadline = time.monotonic() + within
    local = sock.getsockname()
    while (left := deadline - time.monotonic()) > 0:
        try:
            m = ep.expect("any", within=left)
        except P.ExpectTimeout:
            break
        wire.append((LAB_LNS, local[0], P.L2TP_PORT, local[1], m.to_bytes(), time.time()))
        report.items.append(Item("extra", m.message_name if m.is_control else "data", None,
                                 reason="the captured LNS opened no tunnel for this dial-out"))
    return report, wire


# The exchange behaviour that makes a LAC clear an outgoing call with this Q.931 cause (RFC 2661
# §4.4.10; Q.850 causes: 17 user busy, 19 no answer, 21 call rejected, 1 unallocated number).
ISDN_BEHAVIOUR = {17: "busy", 19: "no-answer", 21: "reject", 1: "unallocated"}


def lac_side_setup(t: Tunnel, ppp_secret: str | None, dialout: DialOut | None) -> dict:
    """What the emulated exchange and CPE behind a LAC under test must do to answer the captured
    outgoing call of `t` as the captured LAC's side did: the OCRQ's Called Number (RFC 2661 §4.4.5);
    the exchange's behaviour from the captured CDN's Q.931 Cause Code (§4.4.10: busy, no answer,
    reject, unallocated; a CDN after OCCN: the call drops after the captured time); the CPE's PPP
    name (its captured CHAP Response Name or PAP Peer-ID), whether it authenticated the LNS
    (its own CHAP Challenge or PAP verdict: RFC 1994 §4.1, RFC 1334 §2.2) and the LNS's name and
    secret it checks (the LNS's captured CHAP Name / PAP Peer-ID; `ppp_secret`, else the dial-out's
    ERX-PPP-Password, JunosE "L2TP Dial-Out" Table 75). Returns {'number', 'isdn', 'site',
    'lns_secret'}; ReplayInputError when the capture holds no OCRQ."""
    s = next((x for x in t.sessions if x.kind == "outgoing" and x.complete), None)
    if s is None:
        raise ReplayInputError(f"tunnel {t.number}: no outgoing call (OCRQ) to replay against a LAC",
                               [(f"tunnel {t.number}", "lac-emu as the DUT answers the LNS's OCRQ")])
    ocrq = next(m for m in s.messages if m.name == "OCRQ")
    number = ocrq.packet.get("Called Number") or "5551001"
    isdn: dict = {"behaviour": "answer"}
    occn = next((m for m in s.messages if m.name == "OCCN"), None)
    cdn = next((m for m in s.messages if m.name == "CDN" and m.sender == "LAC"), None)
    if cdn is not None:
        cause = (cdn.packet.get("Q.931 Cause Code") or {}).get("cause_code")
        if occn is not None and cdn.time > occn.time:
            isdn = {"behaviour": "drop-after", "delay": f"{max(1, round(cdn.time - occn.time))}s", "cause": cause or 16}
        elif cause in ISDN_BEHAVIOUR:
            isdn = {"behaviour": ISDN_BEHAVIOUR[cause]}

    def first(sender: str, proto: int, code: int, attr: str):
        return next((getattr(f.packet, attr) for f in s.ppp if f.sender == sender and f.protocol == proto
                     and getattr(f.packet, "code", 0) == code), None)
    cpe_name = first("LAC", P.PROTO_CHAP, 2, "name") or first("LAC", P.PROTO_PAP, 1, "peer_id") or "cpe"
    require = "chap" if first("LAC", P.PROTO_CHAP, 1, "name") is not None else \
        "pap" if any(f.sender == "LAC" and f.protocol == P.PROTO_PAP and getattr(f.packet, "code", 0) in (2, 3)
                     for f in s.ppp) else "none"
    lns_name = first("LNS", P.PROTO_CHAP, 2, "name") or first("LNS", P.PROTO_PAP, 1, "peer_id") or "lns"
    lns_secret = ppp_secret
    if lns_secret is None and dialout is not None and dialout.radius.reply is not None:
        lns_secret = dialout.radius.reply.packet.get("ERX-PPP-Password")
    site = {"number": number, "name": cpe_name, "secret": "replay-cpe", "require_auth": require,
            "users": {lns_name: lns_secret or ""}}
    return {"number": number, "isdn": isdn, "site": site, "lns_secret": lns_secret}


def replay_lac_in_lab(conv: Conversations, tunnel: int | None = None, session: int | None = None,
                      secret: str | None = None, ppp_secret: str | None = None, pace: str = "asap",
                      wait: float | None = None, rules: dict[str, str] | None = None) -> Report:
    """Replays the LNS side of a captured outgoing call against lac-emu as the DUT (the LAC) in a
    fresh lab: lac-emu at 198.51.100.2 with its isdn-emu and a cpe-emu site set up by
    lac_side_setup (the Called Number answered, busy, … as the captured CDN says; the CPE's PPP
    name and authentication as captured), the tunnel `secret` and AVP hiding as the captured LAC;
    the replay sends from lnsd's lab address 198.51.100.1 (no lnsd runs) — SCCRQ, SCCCN, OCRQ as
    captured and the LNS's PPP live (its CHAP answered with `ppp_secret`, else the dial-out's
    ERX-PPP-Password; its verdicts on the CPE as captured) — and compares lac-emu's SCCRP, OCRP,
    OCCN / CDN and the CPE's PPP with the capture. A captured incoming call goes to
    _replay_lac_incoming (lac-emu made to place it through cpe-emu). report.json / report.txt /
    replay.pcap in <run folder>/replay/; nothing is left."""

    t = Replay._pick(conv, tunnel)
    if t.sessions and t.sessions[0].kind == "incoming":
        return _replay_lac_incoming(conv, t, session=session, secret=secret, ppp_secret=ppp_secret, pace=pace,
                                    wait=wait, rules=rules)
    x = next((d for d in conv.dialouts if d.tunnel is t), None)
    how = lac_side_setup(t, ppp_secret, x)
    bdir = build_dir()
    hidden = any(a.hidden for m in t.messages if m.sender == "LAC" for a in m.packet.avps)
    with L.Lab(default_topology(), capture=False) as lab:
        run = lab.run_dir
        cfgs = daemon_configs(run)
        cfgs["isdn"]["numbers"] = {how["number"]: how["isdn"]}
        cfgs["isdn"]["timers"] = {"no-answer": "2s"}
        cfgs["cpe"]["sites"] = [how["site"]]
        cfgs["lac"]["secret"] = secret or ""
        cfgs["lac"]["hide_avps"] = bool(hidden and secret)
        started = _start_lac_side(lab, bdir, cfgs)
        sock = netns.socket_in(lab.ns("lns"))
        try:
            sock.bind((LAB_LNS, P.L2TP_PORT))
            r = Replay(conv, sock, (LAB_LAC, P.L2TP_PORT), tunnel=t, session=session, secret=secret,
                       ppp_secret=how["lns_secret"], pace=pace, wait=wait, rules=rules, dut_name="lac-emu",
                       side="LNS", before_teardown=lambda: {"lac": _control(run / "lac.ctl"),
                                                            "cpe": _control(run / "cpe.ctl")})
            report = r.run()
            out = _save_live(report, lab, r.wire)
            report.stats["lac-emu"] = {"number": how["number"], "isdn": how["isdn"], "cpe": how["site"]["name"],
                                       "cpe_require_auth": how["site"]["require_auth"], "hide_avps": cfgs["lac"]["hide_avps"]}
        finally:
            sock.close()
            for p in reversed(started):
                procs.stop(p)
    return _write_report(report, out)


def _start_lac_side(lab, bdir: Path, cfgs: dict) -> list:
    """isdn-emu and lac-emu in the lab's `lac` host and cpe-emu in `cpe`, from `cfgs` (daemon_configs
    roles isdn, lac, cpe) written into the run folder; each awaited on its ready line. Returns the
    started processes (stop them in reverse order)."""
    started = []
    for role, name, host, binary, ready in (("isdn", "isdn-emu", "lac", "peers/isdn/isdn-emu", "isdn-emu ready"),
                                            ("lac", "lac-emu", "lac", "peers/lac/lac-emu", "lac-emu ready"),
                                            ("cpe", "cpe-emu", "cpe", "peers/cpe/cpe-emu", "cpe-emu ready")):
        (lab.run_dir / f"{role}.yaml").write_text(yaml.safe_dump(cfgs[role]))
        started.append(lab.start(name, host, [str(bdir / binary), "--config", str(lab.run_dir / f"{role}.yaml")],
                                 ready=ready))
    return started


def _replay_lac_incoming(conv: Conversations, t: Tunnel, session: int | None, secret: str | None,
                         ppp_secret: str | None, pace: str, wait: float | None, rules: dict[str, str] | None) -> Report:
    """The LNS side of a captured incoming call (RFC 2661 §6.6-§6.8) against lac-emu in a fresh lab:
    cpe-emu's site (the ICRQ's Calling Number, the CHAP Name or PAP Peer-ID the ICCN proxied, with
    `ppp_secret`) dials lac-emu's number (the ICRQ's Called Number); lac-emu (incoming calls on, its
    proxy authentication the captured one: ICCN Proxy Authen Type 2 CHAP, 3 PAP, RFC 2661 §4.4.5;
    the captured User-Name's domain routed to the replay at lnsd's lab address) opens the tunnel and
    places the call; the replay answers SCCRP, ICRP and the LNS's PPP as captured, and the CPE hangs
    up when the replay awaits the LAC's CDN."""
    s = next(x for x in t.sessions if x.kind == "incoming")
    icrq = next(m.packet for m in s.messages if m.name == "ICRQ")
    iccn = next((m.packet for m in s.messages if m.name == "ICCN"), None)
    user = (iccn.get("Proxy Authen Name") if iccn is not None else None) or (s.pap[0] if s.pap else None)
    if user is None:
        raise ReplayInputError(f"{conv.path}: the incoming call names no user (no proxy authentication, no PAP)",
                               [(f"tunnel {t.number}", "no Proxy Authen Name in the ICCN")])
    auth = {2: "chap", 3: "pap"}.get(iccn.get("Proxy Authen Type") if iccn is not None else None, "chap")
    calling, called = icrq.get("Calling Number") or "5553001", icrq.get("Called Number") or "1701"
    password = s.pap[1] if auth == "pap" and s.pap else ppp_secret
    if password is None:
        raise ReplayInputError(f"{conv.path}: the CPE's CHAP secret is needed", [(user, "give --ppp-secret")])
    domain = user.rpartition("@")[2] or "replay.invalid"
    hidden = any(a.hidden for m in t.messages if m.sender == "LAC" for a in m.packet.avps)
    bdir = build_dir()
    with L.Lab(default_topology(), capture=False) as lab:
        run = lab.run_dir
        cfgs = daemon_configs(run)
        cfgs["isdn"]["numbers"] = {}
        cfgs["lac"].update({"secret": secret or "", "hide_avps": bool(hidden and secret), "number": called,
                            "incoming": True, "incoming_auth": auth, "domains": {domain: LAB_LNS}})
        cfgs["cpe"]["sites"] = [{"number": calling, "name": user, "secret": password}]
        started = _start_lac_side(lab, bdir, cfgs)
        sock = netns.socket_in(lab.ns("lns"))
        try:
            sock.bind((LAB_LNS, P.L2TP_PORT))
            control(run / "cpe.ctl", "dial", {"number": calling, "called": called})
            r = Replay(conv, sock, (LAB_LAC, P.L2TP_PORT), tunnel=t, session=session, secret=secret,
                       ppp_secret=ppp_secret, pace=pace, wait=wait, rules=rules, dut_name="lac-emu",
                       side="LNS", first_wait=10.0,
                       before_teardown=lambda: _cpe_settled(run),
                       on_expect={"CDN": lambda: control(run / "cpe.ctl", "hangup", {"number": calling})})
            report = r.run()
            out = _save_live(report, lab, r.wire)
            report.stats["lac-emu"] = {"incoming_auth": auth, "called": called, "cpe": user, "calling": calling,
                                       "hide_avps": cfgs["lac"]["hide_avps"]}
        finally:
            sock.close()
            for p in reversed(started):
                procs.stop(p)
    return _write_report(report, out)


XL2TPD_LAC = "198.51.100.4"     # the xl2tpd guest's address on the lab's `core` link


def _incoming_user(conv: Conversations, s: Session) -> str:
    """The client's name of a captured incoming call: the ICCN's Proxy Authen Name (RFC 2661
    §4.4.5), else its CHAP Response Name (RFC 1994 §4.1) or PAP Peer-ID (RFC 1334 §2.2.1)."""
    iccn = next((m.packet for m in s.messages if m.name == "ICCN"), None)
    name = iccn.get("Proxy Authen Name") if iccn is not None else None
    name = name or next((f.packet.name for f in s.ppp if f.sender == "LAC" and f.protocol == P.PROTO_CHAP
                         and getattr(f.packet, "code", 0) == 2), None) or (s.pap[0] if s.pap else None)
    if name is None:
        raise ReplayInputError(f"{conv.path}: the incoming call names no user (no proxy authentication, CHAP or PAP)",
                               [("ICCN", "no Proxy Authen Name, no CHAP Response, no PAP request")])
    return name


def replay_xl2tpd_in_lab(conv: Conversations, tunnel: int | None = None, session: int | None = None,
                         secret: str | None = None, ppp_secret: str | None = None, pace: str = "asap",
                         wait: float | None = None, rules: dict[str, str] | None = None) -> Report:
    """The LNS side of a captured incoming call against xl2tpd as the LAC (kernel L2TP and pppd in a
    user-mode Linux guest, dlab.uml.xl2tpd_guest, at 198.51.100.4 on the lab's `core` link): its
    `[lac replay]` section points at lnsd's lab address, where the replay listens (no lnsd runs),
    with the tunnel Challenge when `secret` is given (RFC 2661 §5.1.1); pppd authenticates as the
    captured client (_incoming_user) with `ppp_secret` (CHAP). The call is placed through xl2tpd's
    control pipe (`c replay`, xl2tpd(8)) and torn down with `d replay` when the captured LAC's CDN is
    awaited. xl2tpd sends no proxy LCP / authentication AVPs: a capture of an LNS that renegotiated
    LCP (incoming mode lcp-renegotiation) is what it can follow. ReplayInputError when the capture's
    call is not incoming or the guest cannot run here."""
    from . import uml
    t = Replay._pick(conv, tunnel)
    s = next((x for x in t.sessions if x.kind == "incoming"), None)
    if s is None:
        raise ReplayInputError(f"{conv.path}: --dut xl2tpd replays incoming calls (ICRQ from the LAC) only",
                               [(f"tunnel {t.number}", "no incoming call")])
    user = _incoming_user(conv, s)
    if ppp_secret is None:
        raise ReplayInputError(f"{conv.path}: pppd's CHAP secret for {user!r} is needed", [(user, "give --ppp-secret")])
    why = uml.unavailable_reason()
    if why:
        raise ReplayInputError(f"--dut xl2tpd: {why}", [("xl2tpd guest", why)])

    def topology(raw: dict) -> None:
        raw["hosts"]["xlac"] = {}
        for lk in raw["links"]:
            if lk["name"] == "core":
                lk["ends"]["xlac"] = f"{XL2TPD_LAC}/24"
    conf = (f"[global]\nlisten-addr = {XL2TPD_LAC}\nport = 1701\naccess control = no\n"
            f"auth file = /etc/ppp/l2tp-secrets\n\n[lac replay]\nlns = {LAB_LNS}\n"
            f"pppoptfile = /etc/ppp/options.replay\nname = xlac-replay\nppp debug = yes\nlength bit = yes\n"
            f"autodial = no\nredial = no\nchallenge = {'yes' if secret else 'no'}\n")
    files = {"l2tp-secrets": f"* * {secret}\n" if secret else "# none\n", "xl2tpd-replay.conf": conf,
             "chap-secrets": f'"{user}" * "{ppp_secret}" *\n',
             "options.replay": f"noauth\nname {user}\nuser {user}\nnoipdefault\ndebug\nlogfile /mnt/out/pppd-replay.log\n"}
    with L.Lab(default_topology(topology), capture=False) as lab:
        guest = uml.xl2tpd_guest(lab, "xl2tpd-lac", "xlac", {XL2TPD_LAC: "xl2tpd-replay.conf"}, files)
        sock = netns.socket_in(lab.ns("lns"))
        try:
            sock.bind((LAB_LNS, P.L2TP_PORT))
            wait_for(lambda: "Listening on IP address" in guest.read_out("xl2tpd-replay.log"), 30, "xl2tpd listening")
            guest.run("echo 'c replay' > /var/run/xl2tpd/xl2tpd-replay.control")

            def logs() -> dict:
                return {"xl2tpd": guest.read_out("xl2tpd-replay.log")[-3000:],
                        "pppd": guest.read_out("pppd-replay.log")[-3000:]}
            r = Replay(conv, sock, (XL2TPD_LAC, P.L2TP_PORT), tunnel=t, session=session, secret=secret,
                       ppp_secret=ppp_secret, pace=pace, wait=wait, rules=rules, dut_name="xl2tpd", side="LNS",
                       first_wait=20.0, before_teardown=logs,
                       on_expect={"CDN": lambda: guest.run("echo 'd replay' > /var/run/xl2tpd/xl2tpd-replay.control")})
            report = r.run()
            out = _save_live(report, lab, r.wire)
            report.stats["xl2tpd"] = {"user": user, "challenge": bool(secret), "boot_seconds": guest.boot_seconds,
                                      **logs()}
        finally:
            sock.close()
    return _write_report(report, out)


def _cpe_settled(run: Path, within: float = 5.0) -> dict:
    """lac-emu's and cpe-emu's state before the replay clears the call, once the CPE's IPCP is no
    longer negotiating (our last Configure-Ack may still be on its way; at most `within` s)."""
    def settled():
        cpe = _control(run / "cpe.ctl")
        calls = [x.get("call") or {} for x in cpe.get("sites", [])]
        return cpe if all(c.get("ipcp") in (None, "Opened", "Initial", "Closed") for c in calls) else None
    try:
        cpe = wait_for(settled, within, "cpe-emu's IPCP settled")
    except WaitTimeout:
        cpe = _control(run / "cpe.ctl")
    return {"lac": _control(run / "lac.ctl"), "cpe": cpe}


def _control(path: Path) -> dict:
    """`show state` of an emulated peer (its control socket), or why not."""
    try:
        return control(path, "show state")
    except Exception as e:  # the report says why the snapshot is missing
        return {"error": f"{path.name}: {e}"}


def replay_in_lab(conv: Conversations, tunnel: int | None = None, session: int | None = None,
                  secret: str | None = None, ppp_secret: str | None = None, radius: str = "freeradius",
                  pace: str = "asap", wait: float | None = None, rules: dict[str, str] | None = None,
                  dut: str = "lnsd", radius_secret: str = "lns-secret", trigger: str | None = None) -> Report:
    """Brings a fresh lab up (scenarios/topologies/default.yaml, real FreeRADIUS, lnsd as the DUT at
    198.51.100.1 configured like the captured LNS: see lns_behaviour), replays the conversation from
    the `lac` host (198.51.100.2), writes report.json, report.txt and replay.pcap (the live replay's
    datagrams) into <run folder>/replay/, and tears the lab down (nothing is left). The capture's
    PAP users go into FreeRADIUS with their captured passwords (radius='freeradius'). ReplayInputError
    before any lab is made when the conversation cannot be replayed."""

    if dut == "lac-emu":
        return replay_lac_in_lab(conv, tunnel=tunnel, session=session, secret=secret, ppp_secret=ppp_secret,
                                 pace=pace, wait=wait, rules=rules)
    if dut == "xl2tpd":
        return replay_xl2tpd_in_lab(conv, tunnel=tunnel, session=session, secret=secret, ppp_secret=ppp_secret,
                                    pace=pace, wait=wait, rules=rules)
    if dut != "lnsd":
        raise ReplayInputError(f"--dut {dut}: lnsd (as the LNS), lac-emu or xl2tpd (as the LAC)")
    if radius not in ("freeradius", "capture"):
        raise ReplayInputError(f"--radius {radius}: 'freeradius' or 'capture'")
    x = pick_dialout(conv, tunnel)
    if x is not None:
        return replay_dialout_in_lab(conv, x, session=session, secret=secret, ppp_secret=ppp_secret, radius=radius,
                                     pace=pace, wait=wait, rules=rules, dut=dut, radius_secret=radius_secret,
                                     trigger=trigger)
    t = Replay._pick(conv, tunnel)
    how = lns_behaviour(t, ppp_secret, conv.radius)
    # the captured LNS's own RADIUS requests (RFC 2865 §3), compared with lnsd's on the lab's aaa link
    # (from its address, or for a user of its calls: a NAS often speaks RADIUS from another address)
    names = {u for u, _ in how["users"]}
    exchanges = [x for x in conv.radius if t.lns and (x.client[0] == t.lns[0] or x.user in names)]
    lns_radius = requests_of(exchanges)

    def users(raw: dict) -> None:
        raw["radius"]["lns"]["users"] += _lns_users(how, exchanges)

    bdir = _lnsd_binary_dir()
    with L.Lab(default_topology(users), capture=bool(lns_radius)) as lab:
        run = lab.run_dir
        cfg = daemon_configs(run)["lnsd"]
        cfg = {k: v for k, v in cfg.items() if k != "dialout"}
        vr = dict(cfg["virtual-routers"][0])
        cfg["virtual-routers"] = [vr]
        if any(r.packet.code == 4 for r in lns_radius):     # the captured LNS sent accounting (RFC 2866)
            lns_srv = cfg["virtual-routers"][0].get("lns-radius", {}).get("authentication") or \
                [{"address": "192.0.2.11", "secret": "lns-secret"}]
            vr["radius"] = dict(vr.get("radius", {}), accounting=[dict(lns_srv[0])])
        scripted = None
        if radius == "capture":     # a scripted server answering with the capture's replies
            scripted = _CapturedRadius(lab, exchanges, radius_secret)
            srv = {"address": _CapturedRadius.ADDRESS, "port": scripted.port, "secret": radius_secret}
            vr["lns-radius"] = {"authentication": [srv]}
            if "accounting" in vr.get("radius", {}):
                vr["radius"] = dict(vr["radius"], accounting=[srv])
        # The replaying LAC stands in for the captured one, whose proxy authentication the captured
        # LNS believed: `trusted` (lnsd renegotiates with untrusted LACs, docs/lnsd.md "Safe defaults").
        cfg["peers"] = [{"address": LAB_LAC, "secret": secret or "", "hide-avps": bool(how["hide_avps"] and secret),
                         "trusted": how["mode"] in ("proxy", "mandatory-chap")}]
        cfg["shutdown-wait"] = "1s"
        cfg["incoming"] = {"virtual-router": vr["name"], "profile": "isdn",
                           "authentication": how["authentication"], "mode": how["mode"]}
        (run / "lnsd.yaml").write_text(yaml.safe_dump(cfg))
        d = Lnsd(lab, bdir)
        proc = lab.start("lnsd", "lns", lnsd_argv(bdir, "--config", str(run / "lnsd.yaml"), "--control", d.sock,
                                                  "--events", str(d.events)), ready="lnsd ready")
        sock = netns.socket_in(lab.ns("lac"))
        try:
            sock.bind((LAB_LAC, 0))
            def dut_state() -> dict:
                try:
                    return {"tunnels": d.ctl("show", "l2tp", "tunnel"), "ppp": d.ctl("show", "ppp", "detail")}
                except Exception as e:  # the report says why the snapshot is missing
                    return {"error": f"lnsctl: {e}"}
            r = Replay(conv, sock, (LAB_LNS, 1701), tunnel=tunnel, session=session, secret=secret,
                       ppp_secret=ppp_secret, pace=pace, wait=wait, rules=rules, dut_name=dut,
                       before_teardown=dut_state)
            report = r.run()
            out = _save_live(report, lab, r.wire)
            report.stats["lnsd"] = {"mode": how["mode"], "authentication": how["authentication"],
                                    "hide_avps": cfg["peers"][0]["hide-avps"],
                                    "radius_users": [u for u, _ in how["users"]]}
            if scripted is not None:
                report.stats["radius_capture"] = scripted.history()
        finally:
            sock.close()
            procs.stop(proc)
            if scripted is not None:
                scripted.stop()
    if lns_radius:
        sent = _radius_sent(lab, vr["nas-ip-address"], [scripted.port] if scripted is not None else [])
        report.items += compare_radius_requests(lns_radius, sent, rules if rules is not None else DEFAULT_RULES)
    return _write_report(report, out)


def _is_text(s: str) -> bool:
    """`s` encodes as UTF-8 (no lone surrogates from undecodable octets)."""
    try:
        s.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def captured_reply_for(x, req, secret: str, lac: str | None = None):
    """The captured reply of RADIUS exchange `x` made to answer the live request `req` (--radius
    capture): a copy whose Tunnel-Password (RFC 2868 §3.5) is decrypted with `secret` and the captured
    request's Authenticator and encrypted again with `req`'s (left as captured when it does not
    decrypt), and whose Tunnel-Server-Endpoint that was the captured LAC (`lac`) is the lab's LAC.
    Signing is the caller's (ScriptedRadius)."""
    cap = x.reply.packet
    out = cap.copy()
    tagged = {"Tunnel-Password": [], "Tunnel-Server-Endpoint": []}
    for a in cap.attributes:
        if a.name in tagged:
            tagged[a.name].append(a.tag)
    if tagged["Tunnel-Server-Endpoint"] and lac is not None:
        ends = [(tag, cap.get("Tunnel-Server-Endpoint", tag)) for tag in tagged["Tunnel-Server-Endpoint"]]
        out.remove("Tunnel-Server-Endpoint")
        for tag, v in ends:
            out.add("Tunnel-Server-Endpoint", LAB_LAC if v == lac else v, tag)
    if tagged["Tunnel-Password"]:
        try:
            pws = [(tag, cap.tunnel_password(secret, x.request.packet.authenticator, tag))
                   for tag in tagged["Tunnel-Password"]]
        except P.ParseError:
            pws = []
        # RFC 2868 §3.5 has no integrity check: another secret yields random octets, which either fail
        # the Data-Length check (ParseError above) or are no text (undecodable octets come back as
        # lone surrogates): both mean "does not decrypt", so the attribute stays as captured.
        if pws and all(pw is not None and _is_text(pw) for _, pw in pws):
            out.remove("Tunnel-Password")
            for tag, pw in pws:
                out.add_tunnel_password(tag, pw, secret, req.authenticator)
    return out


class _CapturedRadius:
    """--radius capture: a ScriptedRadius in the lab's `radius` host (192.0.2.11, a free port) that
    answers each request of lnsd with the captured reply to a request of the same Code and
    User-Name (in capture order), re-signed with the replay's RADIUS secret (RFC 2865 §3, RFC 3579
    §3.2); an Accounting-Request without one gets an empty Accounting-Response (RFC 2866 §4.2);
    others are not answered. A Tunnel-Password (RFC 2868 §3.5) is decrypted with the secret and the
    captured request's Authenticator and encrypted again for the live request; a
    Tunnel-Server-Endpoint that was the captured LAC (`lac`) becomes the lab's LAC. Served from a
    thread until stop()."""

    ADDRESS = "192.0.2.11"

    def __init__(self, lab, exchanges: list, secret: str, lac: str | None = None):
        self.left = [x for x in exchanges if x.reply is not None]
        self.secret, self.lac = secret, lac
        self.sock = netns.socket_in(lab.ns("radius"))
        self.sock.bind((self.ADDRESS, 0))
        self.port = self.sock.getsockname()[1]
        self.server = P.ScriptedRadius(self.sock, secret, self._answer)
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _answer(self, req):
        user = req.get("User-Name")
        for i, x in enumerate(self.left):
            if x.request.packet.code == req.code and x.user == user:
                del self.left[i]
                out = captured_reply_for(x, req, self.secret, self.lac)
                if "Message-Authenticator" in out:
                    out.remove("Message-Authenticator")
                    out.add_message_authenticator()
                return out
        return P.Radius.build(5, req.identifier, {}) if req.code == 4 else None

    def _serve(self) -> None:
        while not self.done.is_set():
            self.server.serve(0.1)

    def history(self) -> list:
        return list(self.server.history)

    def stop(self) -> None:
        self.done.set()
        self.thread.join(5)
        self.sock.close()


class _PppPeer:
    """The PPP client of one replayed call (RFC 1661 option negotiation, RFC 1332 IPCP, RFC 1334 PAP,
    RFC 1994 CHAP), answering the DUT as it speaks and seeded from the capture: our Configure-Request
    options are the captured client's (our own Magic-Number), an option of the DUT's
    Configure-Request is Rejected / Nak'ed when the captured client rejected / nak'ed that option
    type, else Acked; the DUT's Nak / Reject of ours is followed (at most 10 times); PAP uses the
    captured Peer-ID and Password once LCP is Opened; CHAP answers the DUT's Challenge with
    --ppp-secret; when the captured client authenticated its peer too (a dial-out CPE checking the
    LNS, JunosE "L2TP Dial-Out" "Mutual Authentication"), our CHAP Challenge carries a fresh random
    value and the captured Name, and the DUT's Response / PAP Authenticate-Request is answered with
    the captured verdict (Success / Failure, Ack / Nak) once LCP is Opened; our IPCP
    Configure-Request goes once authentication (both ways, if any) succeeded."""

    MAX_CONFIGURE = 10   # RFC 1661 §4.6 Max-Configure

    def __init__(self, replay: Replay, s: Session):
        self.r, self.s = replay, s
        self.req: dict[int, list] = {}              # protocol -> our current Configure-Request options
        self.ident: dict[int, int] = {}
        self.tries: dict[int, int] = {}
        self.opened_ours: set[int] = set()
        self.opened_theirs: set[int] = set()
        self.auth: int | None = None                 # protocol the DUT asked in its LCP Configure-Request
        self.authenticated = False
        self.pap_sent = False
        self.ipcp_started = False
        self.challenge_name: str | None = None       # set when the captured client challenged its peer
        self.our_chap_id: int | None = None
        self.dut_pap_id: int | None = None
        self.peer_verified = True                    # False while we authenticate the DUT
        self.reject: dict[int, set] = {P.PROTO_LCP: set(), P.PROTO_IPCP: set()}
        self.nak: dict[int, dict] = {P.PROTO_LCP: {}, P.PROTO_IPCP: {}}
        self.first_req: dict[int, list] = {}
        for f in s.ppp:
            if f.sender != replay.side or f.protocol not in (P.PROTO_LCP, P.PROTO_IPCP):
                continue
            code = f.packet.code
            if code == CONFREJ:
                self.reject[f.protocol] |= {t for t, _ in f.packet.options}
            elif code == CONFNAK:
                self.nak[f.protocol].update({t: bytes(v) for t, v in f.packet.options})
            elif code == CONFREQ and f.protocol not in self.first_req:
                self.first_req[f.protocol] = [(t, bytes(v)) for t, v in f.packet.options]
        pap = s.pap
        self.pap = pap
        # We authenticate the DUT when our captured side did (its CHAP Challenge, or the
        # Authentication-Protocol of its LCP Configure-Request): IPCP waits for our verdict then,
        # even where the capture's Challenge comes later in the script (RFC 1661 §3.5).
        if any(f.sender == replay.side and f.protocol == P.PROTO_CHAP and getattr(f.packet, "code", 0) == 1
               for f in s.ppp) or any(t == 3 for t, _ in self.first_req.get(P.PROTO_LCP, [])):
            self.peer_verified = False

    def _send(self, proto: int, pkt, why: str) -> None:
        self.r._ppp_send(self.s, proto, pkt)
        self.r.report.items.append(Item("sent", f"PPP {_ppp_name(proto, pkt)}", None, reason=why))

    def _cls(self, proto):
        return P.LCP if proto == P.PROTO_LCP else P.IPCP

    def _send_req(self, proto: int) -> None:
        self.tries[proto] = self.tries.get(proto, 0) + 1
        if self.tries[proto] > self.MAX_CONFIGURE:
            return
        self.ident[proto] = (self.ident.get(proto, 0) + 1) & 0xFF
        out = self._cls(proto)(CONFREQ, self.ident[proto])
        for t, v in self.req[proto]:
            out.add_option(t, v)
        self._send(proto, out, "the PPP peer's Configure-Request")

    def start(self, proto: int) -> None:
        if proto in self.req:
            return
        opts = []
        for t, v in self.first_req.get(proto, []):
            if proto == P.PROTO_LCP and t == 5:
                v = self.r.magic.to_bytes(4, "big")
            opts.append((t, v))
        self.req[proto] = opts
        self._send_req(proto)

    def on_script(self, f: PppFrame):
        """A captured client frame reached in the script: True when sent now, else why not."""
        code = getattr(f.packet, "code", None)
        if f.protocol in (P.PROTO_LCP, P.PROTO_IPCP) and code == CONFREQ:
            if f.protocol == P.PROTO_IPCP and ((self.auth is not None and not self.authenticated) or not self.peer_verified):
                return "IPCP waits for the authentication to succeed"
            if f.protocol in self.req:
                return "played live by the PPP peer (retransmission or renegotiation in the capture)"
            self.ipcp_started |= f.protocol == P.PROTO_IPCP
            self.start(f.protocol)
            return "played live by the PPP peer (first Configure-Request)"
        if f.protocol in (P.PROTO_LCP, P.PROTO_IPCP) and code in (CONFACK, CONFNAK, CONFREJ, ECHOREP, TERMACK):
            return "played live by the PPP peer (answers the DUT's own packets)"
        if f.protocol == P.PROTO_PAP:
            if code == 1 and not self.pap_sent:
                self._pap()
                return "played live by the PPP peer" if self.pap_sent else "LCP did not agree on PAP with the DUT"
            if code in (2, 3):      # our verdict on the DUT's Authenticate-Request (RFC 1334 §2.2.2)
                if self.dut_pap_id is None:
                    return "the DUT sent no PAP Authenticate-Request to answer"
                self._send(P.PROTO_PAP, P.PAP(code, self.dut_pap_id), "the captured verdict on the DUT's PAP request")
                self._verified(code == 2)
                return "played live by the PPP peer (the captured verdict)"
            return "played live by the PPP peer"
        if f.protocol == P.PROTO_CHAP:
            if code == 1:           # the captured client challenged its peer (RFC 1994 §4.1)
                self.challenge_name = f.packet.name
                self.peer_verified = False
                self._challenge()
                return "played live by the PPP peer (our own Challenge)"
            if code in (3, 4):      # our verdict on the DUT's Response (RFC 1994 §4.1)
                if self.our_chap_id is None:
                    return "the DUT was not challenged"
                self._send(P.PROTO_CHAP, P.CHAP(code, self.our_chap_id, message=f.packet.message),
                           "the captured verdict on the DUT's CHAP Response")
                self._verified(code == 3)
                return "played live by the PPP peer (the captured verdict)"
            return "played live by the PPP peer (CHAP Response to the DUT's own Challenge)"
        if hasattr(f.packet, "to_bytes"):
            self.r._ppp_send(self.s, f.protocol, f.packet)
            return True
        self.r._ppp_send_raw(self.s, f.protocol, bytes(f.packet))
        return True

    def _pap(self) -> None:
        if self.pap_sent or self.pap is None or self.auth != P.PROTO_PAP or \
                P.PROTO_LCP not in self.opened_ours & self.opened_theirs:   # LCP Opened (RFC 1661 §3.5)
            return
        req = P.PAP(1, 1)
        req.peer_id, req.password = self.pap
        self.pap_sent = True
        self._send(P.PROTO_PAP, req, "the captured Peer-ID and Password")

    def _challenge(self) -> None:
        """Our CHAP Challenge to the DUT, once LCP is Opened (RFC 1661 §3.5): a fresh random value."""
        if self.challenge_name is None or self.our_chap_id is not None or \
                P.PROTO_LCP not in self.opened_ours & self.opened_theirs:
            return
        self.our_chap_id = 1
        self._send(P.PROTO_CHAP, P.CHAP(1, 1, value=os.urandom(16), name=self.challenge_name),
                   "our own random Challenge with the captured Name (RFC 1994 §4.1)")

    def _verified(self, ok: bool) -> None:
        self.peer_verified = ok
        if ok and self.authenticated:
            self._after_auth()

    def _after_auth(self) -> None:
        self.authenticated = True
        if not self.peer_verified:      # IPCP once both sides are authenticated (RFC 1661 §3.5)
            return
        if not self.ipcp_started and P.PROTO_IPCP in self.first_req:
            self.ipcp_started = True
            self.start(P.PROTO_IPCP)

    def on_dut(self, m) -> str | None:
        """Answers the DUT's PPP frame `m`; 'before-lcp' when it was an NCP packet discarded because
        our LCP, which the captured side negotiated, is not Opened yet (RFC 1661 §3.4)."""
        try:
            d = P.ppp_parse(m.payload)
        except P.ParseError:
            return None
        proto, pkt = d["protocol"], d["packet"]
        code = getattr(pkt, "code", None)
        if proto == P.PROTO_IPCP and P.PROTO_LCP in self.first_req and \
                P.PROTO_LCP not in self.opened_ours & self.opened_theirs:
            return "before-lcp"
        if proto in (P.PROTO_LCP, P.PROTO_IPCP):
            cls = self._cls(proto)
            if code == CONFREQ:
                opts = [(t, bytes(v)) for t, v in pkt.options]
                rej = [(t, v) for t, v in opts if t in self.reject[proto]]
                nak = [(t, self.nak[proto][t]) for t, v in opts if t in self.nak[proto] and self.nak[proto][t] != v]
                code_out, body = (CONFREJ, rej) if rej else (CONFNAK, nak) if nak else (CONFACK, opts)
                out = cls(code_out, pkt.identifier)
                for t, v in body:
                    out.add_option(t, v)
                self._send(proto, out, "the PPP peer's answer to the DUT's Configure-Request")
                if code_out == CONFACK and proto in self.opened_theirs and proto in self.req and \
                        proto not in self.opened_ours:
                    # The DUT sent its Configure-Request again and ours is still unacknowledged (lost,
                    # e.g. sent before its PPP channel existed): send ours again, as the Restart
                    # timer would (RFC 1661 §4.6), at most Max-Configure times.
                    self._send_req(proto)
                if code_out == CONFACK:
                    self.opened_theirs.add(proto)
                    if proto == P.PROTO_LCP:
                        auth = dict(opts).get(3)
                        self.auth = int.from_bytes(auth[:2], "big") if auth else None
                        if P.PROTO_LCP not in self.req:
                            self.start(P.PROTO_LCP)
                        self._pap()
                        self._challenge()
                        if self.auth is None:
                            self._after_auth()
                    elif P.PROTO_IPCP not in self.req:
                        self.ipcp_started = True
                        self.start(P.PROTO_IPCP)
            elif code == CONFACK and pkt.identifier == self.ident.get(proto):
                self.opened_ours.add(proto)
                if proto == P.PROTO_LCP:
                    self._pap()
                    self._challenge()
            elif code in (CONFNAK, CONFREJ) and pkt.identifier == self.ident.get(proto) and proto in self.req:
                theirs = {t: bytes(v) for t, v in pkt.options}
                if code == CONFREJ:
                    self.req[proto] = [(t, v) for t, v in self.req[proto] if t not in theirs]
                else:
                    have = {t for t, _ in self.req[proto]}
                    self.req[proto] = [(t, theirs.get(t, v)) for t, v in self.req[proto]] + \
                                      [(t, v) for t, v in theirs.items() if t not in have]
                self._send_req(proto)
            elif proto == P.PROTO_LCP and code == ECHOREQ:
                out = P.LCP(ECHOREP, pkt.identifier)
                out.data = self.r.magic.to_bytes(4, "big") + bytes(pkt.data[4:])
                self._send(proto, out, "the PPP peer's Echo-Reply")
            elif code == TERMREQ:
                self._send(proto, cls(TERMACK, pkt.identifier), "the PPP peer's Terminate-Ack")
        elif proto == P.PROTO_PAP and code == 2:
            self._after_auth()
        elif proto == P.PROTO_PAP and code == 1:    # the DUT authenticates itself to us
            self.dut_pap_id = pkt.identifier
            self.peer_verified = False
        elif proto == P.PROTO_CHAP and code == 1:
            if self.r.ppp_secret is None:
                self.r.report.skipped.append(("CHAP Challenge of the DUT", "not answered: give --ppp-secret"))
                return
            name = next((f.packet.name for f in self.s.ppp if f.protocol == P.PROTO_CHAP and f.sender == self.r.side
                         and getattr(f.packet, "code", 0) == 2), None) or (self.pap[0] if self.pap else "replay")
            out = P.CHAP(2, pkt.identifier, value=P.chap_md5_response(pkt.identifier, self.r.ppp_secret, pkt.value),
                         name=name)
            self._send(proto, out, "MD5 of the DUT's Challenge with --ppp-secret (RFC 1994 §4.1)")
        elif proto == P.PROTO_CHAP and code == 3:
            self._after_auth()


def _before_lcp_opened(s: Session, side: str) -> set[int]:
    """id() of the captured IPCP frames of the DUT's side of call `s` sent after `side` (our side)
    started LCP and before that LCP was Opened both ways (Configure-Ack sent and received, RFC 1661
    §3.4): frames the captured peer had to discard."""
    out: set[int] = set()
    started, acked_by_us, acked_by_dut = False, False, False
    for f in s.ppp:
        code = getattr(f.packet, "code", None)
        if f.protocol == P.PROTO_LCP and code == CONFREQ and f.sender == side:
            started, acked_by_us, acked_by_dut = True, False, False
        elif f.protocol == P.PROTO_LCP and code == CONFACK:
            if f.sender == side:
                acked_by_us = True
            else:
                acked_by_dut = True
        elif f.protocol == P.PROTO_IPCP and f.sender != side and started and not (acked_by_us and acked_by_dut):
            out.add(id(f))
    return out


def _ppp_name(proto: int, pkt) -> str:
    base = {P.PROTO_LCP: "LCP", P.PROTO_PAP: "PAP", P.PROTO_CHAP: "CHAP", P.PROTO_IPCP: "IPCP"}.get(proto, f"0x{proto:04x}")
    if hasattr(pkt, "code_name"):
        return f"{base} {pkt.code_name}"
    code = getattr(pkt, "code", None)
    names = {P.PROTO_PAP: {1: "Request", 2: "Ack", 3: "Nak"},
             P.PROTO_CHAP: {1: "Challenge", 2: "Response", 3: "Success", 4: "Failure"}}.get(proto, {})
    return f"{base} {names.get(code, code)}"
