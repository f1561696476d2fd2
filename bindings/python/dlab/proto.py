"""The project's C++ codecs (proto/) in Python: a thin re-export of dlab._native with short names.

    from dlab.proto import L2TP, Radius, LCP, read_pcap
    msg = L2TP.ocrq(called_number="5551001", assigned_session_id=7, tunnel_id=3, ns=1, nr=1)
    L2TP.parse(msg.to_bytes()).called_number            # '5551001'

Every decoding error is a ParseError (a ValueError) with .protocol, .field, .reason, .source
(RFC section) and .offset. docs/python.md lists the whole API. No protocol logic lives here.
"""
from __future__ import annotations

from . import _native as _n

ParseError = _n.ParseError
ValidationError = _n.ValidationError
UnknownMandatoryAvp = _n.UnknownMandatoryAvp
BuildError = _n.BuildError

# L2TP (RFC 2661)
L2TP = _n.L2TP
L2tpAvp = _n.L2tpAvp
challenge_response = _n.l2tp_challenge_response
hide_value = _n.l2tp_hide_value
unhide_value = _n.l2tp_unhide_value
MESSAGE_TYPES: dict[str, int] = _n.l2tp_message_types()
AVP_TYPES: dict[str, int] = _n.l2tp_avp_types()
L2TP_MESSAGE_REGISTRY: list[dict] = _n.l2tp_message_registry()
L2TP_AVP_REGISTRY: list[dict] = _n.l2tp_avp_registry()
FRAMING_SYNC, FRAMING_ASYNC = 0x1, 0x2   # Framing Capabilities / Type bits (RFC 2661 §4.4.3)
BEARER_DIGITAL, BEARER_ANALOG = 0x1, 0x2  # Bearer Capabilities / Type bits (RFC 2661 §4.4.3)
L2TP_PORT = 1701

# RADIUS (RFC 2865 ff.)
Radius = _n.Radius
RadiusAttribute = _n.RadiusAttribute
chap_password = _n.radius_chap_password
radius_attribute = _n.radius_attribute

# PPP (RFC 1661, 1332, 1334, 1994) and HDLC-like framing (RFC 1662)
LCP, IPCP, PAP, CHAP = _n.LCP, _n.IPCP, _n.PAP, _n.CHAP
ppp_parse = _n.ppp_parse
ppp_frame = _n.ppp_frame
chap_md5_response = _n.chap_md5_response
hdlc_encode_async = _n.hdlc_encode_async
hdlc_encode_sync = _n.hdlc_encode_sync
hdlc_decode_sync = _n.hdlc_decode_sync
AsyncDeframer = _n.AsyncDeframer
PROTO_LCP, PROTO_PAP, PROTO_CHAP, PROTO_IPCP, PROTO_IPV4 = 0xC021, 0xC023, 0xC223, 0x8021, 0x0021

# pcap
CaptureError = _n.CaptureError
write_pcap = _n.write_pcap
RADIUS_PORTS = (1812, 1813, 1645, 1646, 3799)


class Capture(list):
    """The frames of interest of a capture file, in file order (a list of dicts), with what was left out.

    Each frame: index (1-based frame number in the file), time (s), interface, link_type (LINKTYPE_
    number), direction ('in' / 'out' when the link type records it, else None), protocol ('l2tp',
    'radius-auth', 'radius-acct', 'radius-dynauth' or 'ppp' for PPP seen directly on the link),
    src, dst, sport, dport (None for 'ppp'), payload (bytes), packet (L2TP / Radius; for 'ppp' the
    dict of ppp_parse), error (ParseError text or None), summary (one line), reassembled (IPv4
    fragments put back together, RFC 791 §3.2).
    Attributes: skipped ({kind: count} of the frames of no interest: 'tcp', 'ipv6', 'arp',
    'udp-other', 'ipv4-fragment-held', 'truncated-link-header'…), total (frames in the file),
    format ('pcap' / 'pcapng'), interfaces ([{'link_type', 'name'}]), path.
    """

    def __init__(self, path: str, raw: dict):
        super().__init__(raw["frames"])
        self.path = path
        self.skipped: dict[str, int] = dict(raw["skipped"])
        self.total: int = raw["total"]
        self.format: str = raw["format"]
        self.interfaces: list[dict] = list(raw["interfaces"])


def read_pcap(path, l2tp_ports=(), radius_ports=()) -> Capture:
    """Reads a pcap or pcapng capture (every section and interface) into a Capture.

    L2TP is found on UDP 1701, on `l2tp_ports`, and on every address:port seen in a datagram to or
    from those (the floated port of a control connection, RFC 2661 §8.1); RADIUS on 1812/1813/
    1645/1646/3799 and on `radius_ports`. Link types: Ethernet (802.1Q/QinQ, MPLS, PPPoE session),
    Linux SLL/SLL2, raw IPv4, BSD null/loopback, PPP, PPP_HDLC, PPP_WITH_DIR, PPP_PPPD, C_HDLC,
    PPP_ETHER. Raises CaptureError (a ValueError with file, reason, offset, link_type,
    link_type_name) for an unreadable, truncated or corrupt file or an unsupported link type.
    """
    path = str(path)
    return Capture(path, _n.read_capture(path, list(l2tp_ports), list(radius_ports)))


# scripted endpoint
ScriptedL2tp = _n.ScriptedL2tp
ExpectTimeout = _n.ExpectTimeout
ScriptedRadius = _n.ScriptedRadius      # scripted RADIUS server: answer / drop / delay / spoof
RadiusReply = _n.RadiusReply

# scenario engine (scenarios/engine): link impairment relay and trigger injector
ImpairmentRelay = _n.ImpairmentRelay    # UDP relay: drop / delay / duplicate / reorder by rule
impairment_classify = _n.impairment_classify
TriggerInjector = _n.TriggerInjector    # IPv4 packets crafted with libtins, sent from a lab host

__all__ = [n for n in dir() if not n.startswith("_") and n != "annotations"]
