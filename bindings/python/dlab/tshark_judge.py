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
"""
from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

# RFC 2661 §3.2 Control Message Types (Message Type AVP values) by number.
L2TP_MESSAGE_TYPES = {1: "SCCRQ", 2: "SCCRP", 3: "SCCCN", 4: "StopCCN", 6: "HELLO", 7: "OCRQ", 8: "OCRP",
                      9: "OCCN", 10: "ICRQ", 11: "ICRP", 12: "ICCN", 14: "CDN", 15: "WEN", 16: "SLI"}
PI_ERROR = 0x00800000     # expert severity "error" (Wireshark epan/proto.h PI_ERROR)
# tshark's protocol names inside PPP (frame.protocols after "ppp"); the link-level ones are skipped.
_PPP_LAYER = "ppp"

FIELDS = ("frame.number", "frame.protocols", "l2tp.avp.message_type", "radius.code", "_ws.expert.severity",
          "_ws.expert.message", "_ws.malformed", "_ws.col.Info")


class TsharkMissing(RuntimeError):
    """tshark is not installed (Debian package tshark)."""


@dataclass
class Frame:
    number: int
    protocols: str
    info: str
    expert: list[tuple[int, str]]      # (severity, message)
    malformed: bool

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


def decode(pcap: Path | str, extra_args: tuple[str, ...] = ()) -> Verdict:
    """Decode `pcap` with tshark (one pass, -n) into a Verdict. `extra_args` e.g. ("-d",
    "udp.port==1702,l2tp") for a non-standard port. TsharkMissing, or RuntimeError with tshark's
    stderr when it cannot read the file."""
    if shutil.which("tshark") is None:
        raise TsharkMissing("tshark not on PATH (Debian package tshark)")
    argv = ["tshark", "-n", "-r", str(pcap), *extra_args, "-T", "fields", "-E", "separator=\t",
            "-E", "occurrence=a", "-E", "aggregator=\x1f"]
    for f in FIELDS:
        argv += ["-e", f]
    cp = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    if cp.returncode != 0:
        raise RuntimeError(f"tshark could not read {pcap}: {cp.stderr.strip()}")
    v = Verdict(Path(pcap))
    for line in cp.stdout.splitlines():
        cols = line.split("\t")
        cols += [""] * (len(FIELDS) - len(cols))
        num, protos, mtypes, rcodes, sev, msgs, malformed, info = cols[:8]
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
        sevs = [int(s, 0) for s in _split(sev)]
        texts = _split(msgs)
        expert = list(zip(sevs, texts + [""] * (len(sevs) - len(texts))))
        fr = Frame(int(num or 0), protos, info, expert, bool(malformed) or "_ws.malformed" in stack)
        if fr.malformed:
            v.malformed.append(fr)
        if any(s >= PI_ERROR for s in sevs):
            v.errors.append(fr)
    return v


def judge(pcap: Path | str, l2tp: set[str] | None = None, ppp: set[str] | None = None,
          radius: set[int] | None = None, only: bool = False, extra_args: tuple[str, ...] = ()) -> Verdict:
    """decode() and assert: no malformed frame, no expert error, every expected L2TP message type /
    PPP protocol / RADIUS code seen (and, `only=True`, nothing else of those kinds). Returns the
    Verdict; AssertionError listing every problem with the frames that show it."""
    v = decode(pcap, extra_args)
    problems = []
    for fr in v.malformed:
        problems.append(f"malformed: {fr.describe()}")
    for fr in v.errors:
        if fr not in v.malformed:
            problems.append(f"expert error: {fr.describe()}")
    for kind, want, seen in (("L2TP message types", l2tp, v.l2tp), ("PPP protocols", ppp, v.ppp),
                             ("RADIUS codes", radius, v.radius)):
        if want is None:
            continue
        missing = set(want) - set(seen)
        if missing:
            problems.append(f"{kind} expected but not seen: {sorted(missing, key=str)} (seen {dict(seen)})")
        extra = set(seen) - set(want) - ({"ZLB"} if kind.startswith("L2TP") else set())
        if only and extra:
            problems.append(f"{kind} seen but not expected: {sorted(extra, key=str)}")
    if problems:
        raise AssertionError(f"tshark judge of {pcap} ({v.frames} frames):\n  " + "\n  ".join(problems))
    return v
