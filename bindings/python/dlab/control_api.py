"""Client side of the daemons' control API (lns/core ControlServer: one JSON object per line over a
Unix-domain socket). Every daemon of the project — lnsd, isdn-emu, lac-emu, cpe-emu — speaks it."""
from __future__ import annotations

import json
import socket
from pathlib import Path


class ControlError(RuntimeError):
    """The daemon answered ok=false; the message is its error text."""


def request(path: str | Path, cmd: str, args: dict | None = None, timeout: float = 5.0) -> object:
    """Send one request `{"id":1,"cmd":cmd,"args":args}` and return its `result`.

    Raises ControlError when the daemon answers ok=false, OSError when the socket is not there or
    does not answer within `timeout` seconds.
    """
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall((json.dumps({"id": 1, "cmd": cmd, "args": args or {}}) + "\n").encode())
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
    r = json.loads(buf)
    if not r.get("ok"):
        raise ControlError(f"{cmd}: {r.get('error', r)}")
    return r["result"]
