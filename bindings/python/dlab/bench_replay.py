"""Benchmark of the replay's own cost (docs/performance.md): a synthetic capture of one control
connection with N captured messages (SCCRQ / SCCRP / SCCCN, then Hello from each side in turn,
RFC 2661 §6.5) replayed at --pace asap against a scripted LNS in another process on loopback that
answers each Hello with a Hello. Prints messages, wall time, messages/s, and the replay's time per
message with the answer time of the scripted LNS taken out.

    PYTHONPATH=bindings/python:build/bindings /usr/bin/python3 -m dlab.bench_replay --messages 10000
"""
from __future__ import annotations

import argparse
import json
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def build_capture(path: Path, messages: int) -> None:
    from . import proto as P
    lac, lns = ("192.0.2.1", 1701), ("192.0.2.2", 1701)
    frames = [(lac, lns, P.L2TP.sccrq(assigned_tunnel_id=5, host_name="bench", ns=0, nr=0)),
              (lns, lac, P.L2TP.sccrp(assigned_tunnel_id=7, host_name="bench-lns", tunnel_id=5, ns=0, nr=1)),
              (lac, lns, P.L2TP.scccn(tunnel_id=7, ns=1, nr=1))]
    ns = {lac: 2, lns: 1}
    while len(frames) < messages:
        for src, dst, tid in ((lac, lns, 7), (lns, lac, 5)):
            frames.append((src, dst, P.L2TP.hello(tunnel_id=tid, ns=ns[src] & 0xFFFF, nr=ns[dst] & 0xFFFF)))
            ns[src] += 1
    P.write_pcap(str(path), [{"src": s[0], "dst": d[0], "sport": s[1], "dport": d[1], "payload": m.to_bytes(),
                              "time": 1000 + i * 0.001} for i, (s, d, m) in enumerate(frames[:messages])])


def serve(port_file: str) -> None:
    """The scripted LNS: SCCRQ -> SCCRP, each Hello -> a Hello; prints its summed answer time (s)."""
    from . import proto as P
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    Path(port_file).write_text(str(s.getsockname()[1]))
    ep = P.ScriptedL2tp(s)
    busy = 0.0
    while True:
        try:
            m = ep.expect(lambda x: x.is_control and not x.is_zlb, within=5.0)
        except P.ExpectTimeout:
            break
        t0 = time.perf_counter()
        if m.message_name == "SCCRQ":
            ep.send(P.L2TP.sccrp(assigned_tunnel_id=900, host_name="bench-lns"))
        elif m.message_name == "HELLO":
            ep.send(P.L2TP.hello())
        busy += time.perf_counter() - t0
    print(json.dumps({"dut_busy_s": busy}))


def run(messages: int) -> dict:
    from . import replay, replay_run as R
    with tempfile.TemporaryDirectory() as tmp:
        cap = Path(tmp) / "bench.pcap"
        build_capture(cap, messages)
        port_file = Path(tmp) / "port"
        dut = subprocess.Popen([sys.executable, "-m", "dlab.bench_replay", "--serve", str(port_file)],
                               stdout=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 10
        while not port_file.exists() or not port_file.read_text():
            if time.monotonic() > deadline:
                dut.kill()
                raise RuntimeError("scripted LNS did not start")
            time.sleep(0.01)
        t_load = time.perf_counter()
        conv = replay.load(cap)
        load_s = time.perf_counter() - t_load
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.bind(("127.0.0.1", 0))
        r = R.Replay(conv, s, ("127.0.0.1", int(port_file.read_text())), wait=2.0)
        t0 = time.perf_counter()
        rep = r.run()
        wall = time.perf_counter() - t0
        s.close()
        out, _ = dut.communicate(timeout=30)
        dut_busy = json.loads(out.strip().splitlines()[-1])["dut_busy_s"]
    counts = rep.counts()
    n = sum(counts.values())
    return {"messages": n, "counts": counts, "load_s": round(load_s, 3), "replay_s": round(wall, 3),
            "messages_per_s": round(n / wall, 1), "per_message_ms": round(1e3 * wall / n, 3),
            "replay_overhead_per_message_ms": round(1e3 * (wall - dut_busy) / n, 3),
            "exit_status": rep.exit_status}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python3 -m dlab.bench_replay")
    p.add_argument("--messages", type=int, default=10000)
    p.add_argument("--serve", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.serve:
        serve(a.serve)
        return 0
    print(json.dumps(run(a.messages), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
