"""tshark as the judge of a capture: an implementation we did not write decodes every packet a test
recorded and says whether each is well formed, and which L2TP messages, PPP protocols and RADIUS
codes crossed the wire.

    v = decode(pcap)                       # one tshark pass (Wireshark's dissectors)
    judge(pcap, l2tp={"SCCRQ", "OCRQ", "OCCN"}, ppp={"lcp", "chap", "ipcp"}, radius={1, 2})

`judge` fails (AssertionError) when a frame is malformed (`_ws.malformed`), when tshark's expert
info has an error-severity item (PI_ERROR, Wireshark's epan/proto.h), or when an expected L2TP
message type (RFC 2661 §3.2 names), PPP protocol (tshark's protocol names: lcp, pap, chap, ipcp,
ip, …) or RADIUS code (RFC 2865 §3) was not seen; with `only=True` also when something else was.
The message prints each offending frame (number, protocol stack, tshark's Info column) and its
expert messages. tshark missing: `TsharkMissing` (tests skip on it, see pytest_plugin).

    judge_links({"core": p1, "aaa": p2}, {"core": {"l2tp": {...}}}, only_from={"198.51.100.1"})

judges a test's per-link pcaps with one tshark pass (pcaps of one link type are concatenated into
one file; empty ones are not decoded) — what dlab.pytest_plugin runs after every captured test.
`only_from`: malformed frames and expert errors count only when sent from those IPv4 addresses
(a conformance suite's DUT; its scripted peer sends malformed packets on purpose).
"""
from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

# RFC 2661 §3.2 Control Message Types (Message Type AVP values) by number.
L2TP_MESSAGE_TYPES = {1: "SCCRQ", 2: "SCCRP", 3: "SCCCN", 4: "StopCCN", 6: "HELLO", 7: "OCRQ", 8: "OCRP",
                      9: "OCCN", 10: "ICRQ", 11: "ICRP", 12: "ICCN", 14: "CDN", 15: "WEN", 16: "SLI"}
PI_ERROR = 0x00800000     # expert severity "error" (Wireshark epan/proto.h PI_ERROR)
# tshark's protocol names inside PPP (frame.protocols after "ppp"); the link-level ones are skipped.
_PPP_LAYER = "ppp"

FIELDS = ("frame.number", "frame.protocols", "l2tp.avp.message_type", "radius.code", "_ws.expert.severity",
          "_ws.expert.message", "_ws.malformed", "_ws.col.Info", "ip.src")


class TsharkMissing(RuntimeError):
    """tshark is not installed (Debian package tshark)."""


@dataclass
class Frame:
    number: int
    protocols: str
    info: str
    expert: list[tuple[int, str]]      # (severity, message)
    malformed: bool
    src: str = ""                      # IPv4 source ("" if none; the outer one when tunnelled)

    def describe(self) -> str:
        ex = "; ".join(f"{'error' if s >= PI_ERROR else hex(s)}: {m}" for s, m in self.expert)
        return f"frame {self.number} [{self.protocols}] {self.info}" + (f"  expert: {ex}" if ex else "")


@dataclass
class Verdict:
    """What tshark saw in one capture."""
    pcap: Path
    frames: int = 0
    l2tp: dict[str, int] = field(default_factory=dict)     # message type name -> count
    ppp: dict[str, int] = field(default_factory=dict)      # protocol name inside PPP -> count
    radius: dict[int, int] = field(default_factory=dict)   # RADIUS code -> count
    malformed: list[Frame] = field(default_factory=list)
    errors: list[Frame] = field(default_factory=list)      # frames with an error-severity expert item


def _split(value: str) -> list[str]:
    return [x for x in value.split("\x1f") if x != ""] if value else []


# The lab's dial-out triggers go to UDP port 9 (discard, RFC 863), which has no dissector, from an
# ephemeral source port; tshark then tries the source port's dissector, and a port such as 37008
# (TZSP) turns a trigger into a "malformed" frame. Port 9 is decoded as plain data instead.
BASE_ARGS: tuple[str, ...] = ("-d", "udp.port==9,data")


def _tshark(pcap: Path | str, extra_args: tuple[str, ...]) -> list[list[str]]:
    """One tshark pass over `pcap`: a row of FIELDS per frame (BASE_ARGS, then `extra_args`)."""
    if shutil.which("tshark") is None:
        raise TsharkMissing("tshark not on PATH (Debian package tshark)")
    argv = ["tshark", "-n", "-r", str(pcap), *BASE_ARGS, *extra_args, "-T", "fields", "-E", "separator=\t",
            "-E", "occurrence=a", "-E", "aggregator=\x1f"]
    for f in FIELDS:
        argv += ["-e", f]
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=600)
    if cp.returncode != 0:
        raise RuntimeError(f"tshark could not read {pcap}: {cp.stderr.strip()}")
    rows = []
    for line in cp.stdout.splitlines():
        cols = line.split("\t")
        rows.append(cols + [""] * (len(FIELDS) - len(cols)))
    return rows


def _add(v: Verdict, cols: list[str], number: int) -> None:
    """Accounts one tshark row (FIELDS) in `v` as frame `number` of its pcap."""
    _num, protos, mtypes, rcodes, sev, msgs, malformed, info, src = cols[:9]
    v.frames += 1
    stack = protos.split(":")
    for t in _split(mtypes):
        name = L2TP_MESSAGE_TYPES.get(int(t), f"type-{t}")
        v.l2tp[name] = v.l2tp.get(name, 0) + 1
    if protos.startswith("eth:") and "l2tp" in stack and mtypes == "" and "ppp" not in stack:
        v.l2tp["ZLB"] = v.l2tp.get("ZLB", 0) + 1     # a control message without AVPs
    if _PPP_LAYER in stack:
        inner = stack[stack.index(_PPP_LAYER) + 1] if stack.index(_PPP_LAYER) + 1 < len(stack) else "ppp"
        v.ppp[inner] = v.ppp.get(inner, 0) + 1
    for c in _split(rcodes):
        v.radius[int(c)] = v.radius.get(int(c), 0) + 1
    sevs = [int(x, 0) for x in _split(sev)]
    texts = _split(msgs)
    expert = list(zip(sevs, texts + [""] * (len(sevs) - len(texts))))
    fr = Frame(number, protos, info, expert, bool(malformed) or "_ws.malformed" in stack,
               (_split(src) or [""])[0])
    if fr.malformed:
        v.malformed.append(fr)
    if any(x >= PI_ERROR for x in sevs):
        v.errors.append(fr)


def decode(pcap: Path | str, extra_args: tuple[str, ...] = ()) -> Verdict:
    """Decode `pcap` with tshark (one pass, -n) into a Verdict. `extra_args` e.g. ("-d",
    "udp.port==1702,l2tp") for a non-standard port. TsharkMissing, or RuntimeError with tshark's
    stderr when it cannot read the file."""
    v = Verdict(Path(pcap))
    for cols in _tshark(pcap, extra_args):
        _add(v, cols, int(cols[0] or 0))
    return v


def _records(body: bytes, order: str) -> int:
    """Complete pcap records in `body` (after the 24-octet global header); a cut tail is ignored."""
    n = off = 0
    while off + 16 <= len(body):
        incl = struct.unpack_from(order + "I", body, off + 8)[0]
        if off + 16 + incl > len(body):
            break
        off += 16 + incl
        n += 1
    return n


_MAGIC_ORDER = {b"\xd4\xc3\xb2\xa1": "<", b"\x4d\x3c\xb2\xa1": "<", b"\xa1\xb2\xc3\xd4": ">", b"\xa1\xb2\x3c\x4d": ">"}


def decode_links(pcaps: dict[str, Path], extra_args: tuple[str, ...] = ()) -> dict[str, Verdict]:
    """Decode several pcaps (link name -> classic pcap file) with one tshark pass: the records of
    every pcap whose global header has the same magic and link type are concatenated into one
    temporary file and each frame is credited to its own pcap (numbered within it). Pcaps without
    records are not decoded (an empty Verdict); others (pcapng, another link type) get a pass each."""
    out = {link: Verdict(Path(p)) for link, p in pcaps.items()}
    groups: dict[bytes, list[tuple[str, bytes, bytes, int]]] = {}
    for link, p in pcaps.items():
        data = Path(p).read_bytes()
        order = _MAGIC_ORDER.get(data[:4])
        if order is None or len(data) < 24:
            out[link] = decode(p, extra_args)
            continue
        body = data[24:]
        n = _records(body, order)
        if n:
            groups.setdefault(data[:4] + data[20:24], []).append((link, data[:24], body, n))
    for members in groups.values():
        if len(members) == 1:
            out[members[0][0]] = decode(pcaps[members[0][0]], extra_args)
            continue
        order = _MAGIC_ORDER[members[0][1][:4]]
        snaplen = max(struct.unpack_from(order + "I", h, 16)[0] for _, h, _, _ in members)
        header = members[0][1][:16] + struct.pack(order + "I", snaplen) + members[0][1][20:24]
        fd, merged = tempfile.mkstemp(suffix=".pcap", prefix="dlab-judge-")
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(header)
                for _, _, body, _ in members:
                    f.write(body)
            rows = _tshark(merged, extra_args)
        finally:
            os.unlink(merged)
        bounds, first = [], 1
        for link, _, _, n in members:
            bounds.append((link, first, first + n))
            first += n
        for cols in rows:
            num = int(cols[0] or 0)
            for link, lo, hi in bounds:
                if lo <= num < hi:
                    _add(out[link], cols, num - lo + 1)
                    break
    return out


def problems(v: Verdict, l2tp: set[str] | None = None, ppp: set[str] | None = None, radius: set[int] | None = None,
             only: bool = False, only_from: set[str] | None = None) -> list[str]:
    """What judge() would fail on in `v` (empty: none). `only_from`: count malformed frames and
    expert errors only from those IPv4 sources."""
    out = []
    mine = (lambda fr: True) if only_from is None else (lambda fr: fr.src in only_from)
    for fr in v.malformed:
        if mine(fr):
            out.append(f"malformed: {fr.describe()}")
    for fr in v.errors:
        if fr not in v.malformed and mine(fr):
            out.append(f"expert error: {fr.describe()}")
    for kind, want, seen in (("L2TP message types", l2tp, v.l2tp), ("PPP protocols", ppp, v.ppp),
                             ("RADIUS codes", radius, v.radius)):
        if want is None:
            continue
        missing = set(want) - set(seen)
        if missing:
            out.append(f"{kind} expected but not seen: {sorted(missing, key=str)} (seen {dict(seen)})")
        extra = set(seen) - set(want) - ({"ZLB"} if kind.startswith("L2TP") else set())
        if only and extra:
            out.append(f"{kind} seen but not expected: {sorted(extra, key=str)}")
    return out


def judge_links(pcaps: dict[str, Path], expect: dict[str, dict] | None = None, only_from: set[str] | None = None,
                extra_args: tuple[str, ...] = ()) -> dict[str, Verdict]:
    """decode_links() and judge each link's Verdict against `expect[link]` (keyword arguments of
    problems(): l2tp, ppp, radius, only). Returns the Verdicts; AssertionError listing every
    problem, per pcap, with the frames that show it. An expected link without a pcap is a problem."""
    expect = expect or {}
    verdicts = decode_links(pcaps, extra_args)
    text = []
    for link, v in verdicts.items():
        found = problems(v, only_from=only_from, **expect.get(link, {}))
        if found:
            text.append(f"tshark judge of {v.pcap} ({v.frames} frames):\n  " + "\n  ".join(found))
    missing = sorted(set(expect) - set(pcaps))
    if missing:
        text.append(f"no pcap for the expected links {missing}")
    if text:
        raise AssertionError("\n".join(text))
    return verdicts


def judge(pcap: Path | str, l2tp: set[str] | None = None, ppp: set[str] | None = None,
          radius: set[int] | None = None, only: bool = False, extra_args: tuple[str, ...] = ()) -> Verdict:
    """decode() and assert: no malformed frame, no expert error, every expected L2TP message type /
    PPP protocol / RADIUS code seen (and, `only=True`, nothing else of those kinds). Returns the
    Verdict; AssertionError listing every problem with the frames that show it."""
    v = decode(pcap, extra_args)
    found = problems(v, l2tp, ppp, radius, only)
    if found:
        raise AssertionError(f"tshark judge of {pcap} ({v.frames} frames):\n  " + "\n  ".join(found))
    return v
