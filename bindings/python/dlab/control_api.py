"""Client side of the daemons' control API (lns/core ControlServer: one JSON object per line over a
Unix-domain socket). Every daemon of the project — lnsd, isdn-emu, lac-emu, cpe-emu — speaks it.

    lns = Daemon(lab.run_dir / "lnsd.sock", name="lnsd")
    lns.subscribe()                                   # event stream, read by a background thread
    lns.show("l2tp dial-out session")                 # == request("show l2tp dial-out session")
    ev = lns.wait_for(entity="dialout.session", to="inService", within=2.0)
    lns.close()

Wire format (lns/core/src/control.cpp): request `{"id":N,"cmd":"...","args":{...}}`, answer
`{"id":N,"ok":true,"result":...}` or `{"id":N,"ok":false,"error":"..."}`; after `subscribe` (args
`entity`, `id`: the server-side EventFilter) the same connection also carries `{"event":{...}}`
lines, each an Event::to_json() object (`time_ns, time, entity, id, from, to, event, cause`, optional
`timer`, `permitted`, `extra`). The client keeps no protocol logic: filtering beyond the
server's entity/id filter is a plain comparison of the event's JSON fields.
"""
from __future__ import annotations

import collections
import itertools
import json
import socket
import threading
import time
from pathlib import Path
from typing import Any

EVENT_BUFFER = 10000   # events kept per stream (oldest dropped first)


class ControlError(RuntimeError):
    """The daemon answered ok=false; the message is its error text. `param`: the argument whose
    value was refused when the daemon names one (lnsd's `limit` / `after` of a listing), else None."""

    def __init__(self, message: str, param: str | None = None):
        super().__init__(message)
        self.param = param


class EventTimeout(AssertionError):
    """Daemon.wait_for found no matching event in time.

    The message names the daemon, what was awaited and lists the events seen in the window looked
    at (oldest first, at most the last 40 lines); `.seen` holds those events as dicts."""

    def __init__(self, daemon: str, what: str, within: float, seen: list[dict], note: str = ""):
        lines = [format_event(e) for e in seen[-40:]]
        if len(seen) > 40:
            lines.insert(0, f"... {len(seen) - 40} earlier events not shown")
        body = "\n  ".join(lines) if lines else "(no events)"
        super().__init__(f"{daemon}: no event {what} within {within:.1f}s{note}; events seen:\n  {body}")
        self.seen = seen


def format_event(e: dict) -> str:
    """One line per event, like the daemons' golden format: `entity:id from -> to on event (cause=...)`."""
    s = f"{e.get('entity', '?')}:{e.get('id', '')}"
    if e.get("permitted") is False:
        s += f" {e.get('from', '')}: {e.get('event', '')} NOT PERMITTED"
    elif e.get("from") or e.get("to"):
        s += f" {e['from']} ->" if e.get("from") else " ->"
        s += f" {e.get('to', '')} on {e.get('event', '')}"
    else:
        s += f" {e.get('event', '')}"
    if e.get("cause"):
        s += f" (cause={e['cause']})"
    if e.get("extra"):
        s += " " + json.dumps(e["extra"], sort_keys=True)
    return s


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
    if not buf.strip():
        raise ControlError(f"{cmd}: the daemon closed the connection without answering")
    r = json.loads(buf)
    if not r.get("ok"):
        raise ControlError(f"{cmd}: {r.get('error', r)}", r.get("param"))
    return r["result"]


def entity_matches(want: str, entity: str) -> bool:
    """`want` names `entity` itself or a dotted prefix of it ("dialout" matches "dialout.session"),
    the rule of the server's EventFilter (lns/core/src/event.cpp)."""
    return entity == want or entity.startswith(want + ".")


def _field(e: dict, key: str) -> Any:
    if key in e:
        return e[key]
    extra = e.get("extra")
    if isinstance(extra, dict) and key in extra:
        return extra[key]
    return _MISSING


_MISSING = object()


def event_matches(e: dict, entity: str | None = None, **fields: Any) -> bool:
    """True if event `e` is of `entity` (see entity_matches) and every field matches: equal, or a
    callable returning true for the value. A field is a top-level key of the event (`id`, `from`,
    `to`, `event`, `cause`, `permitted`) or else a key of its `extra` object; a field the event lacks
    does not match. Use `from_=` for `from` (a Python keyword)."""
    if entity is not None and not entity_matches(entity, str(e.get("entity", ""))):
        return False
    for k, want in fields.items():
        v = _field(e, k[:-1] if k.endswith("_") else k)
        if v is _MISSING:
            return False
        if callable(want):
            if not want(v):
                return False
        elif v != want:
            return False
    return True


class Daemon:
    """A client of one daemon's control socket: requests, and an event stream with waits.

    path: the Unix socket (`--control` of lnsd, `control:` of the peers' configs). name: used in
    messages. timeout: seconds per request. buffer: events kept (oldest dropped first).

    Requests open a short connection each (thread-safe). `subscribe()` opens one long connection
    whose events a background thread appends to a bounded buffer; each event gets a sequence number
    (0, 1, ... over the client's life), which `mark()`, `events(since=)` and `wait_for(since=)` use.
    `wait_for` consumes: by default it looks at events after the one the previous wait_for
    returned (or after `reset_cursor()`), so successive waits follow the daemon's order.
    """

    def __init__(self, path: str | Path, name: str | None = None, timeout: float = 5.0,
                 buffer: int = EVENT_BUFFER):
        self.path = Path(path)
        self.name = name or self.path.stem
        self.timeout = timeout
        self._buf: collections.deque[tuple[int, dict]] = collections.deque(maxlen=buffer)
        self._next_seq = 0          # sequence number of the next event received
        self._cursor = 0            # wait_for looks at events with seq >= cursor
        self._origin = 0            # events() looks at events with seq >= origin (reset_cursor)
        self._cond = threading.Condition()
        self._sock: socket.socket | None = None
        self._reader: threading.Thread | None = None
        self._closed_reason: str | None = None
        self._answers: collections.deque[dict] = collections.deque(maxlen=100)  # later answers on the stream
        self._ids = itertools.count(1)

    def __repr__(self) -> str:
        return f"Daemon({self.name!r}, {str(self.path)!r})"

    # ----- requests -----
    def request(self, cmd: str, **args: Any) -> Any:
        """One request; returns its `result`. Raises ControlError (ok=false: the daemon's message),
        OSError (no socket, or no answer within `timeout`)."""
        try:
            return request(self.path, cmd, args, self.timeout)
        except ControlError as e:
            raise ControlError(f"{self.name}: {e}", e.param) from None

    def show(self, what: str = "", **args: Any) -> Any:
        """`show <what>` (e.g. show("l2tp dial-out session", id=KEY), show("state") for the peers)."""
        return self.request(f"show {what}".strip(), **args)

    def show_all(self, what: str, page: int = 1000, **args: Any) -> list:
        """Every item of a paged listing of lnsd (`show l2tp session`, `show ppp`, … with `limit`,
        `after`; docs/lnsd.md "Paging"), fetched `page` items per request, in the listing's key
        order. An item that comes or goes between two requests may be missing; none is repeated."""
        items: list = []
        args = dict(args, limit=page)
        while True:
            r = self.show(what, **args)
            items += r["items"]
            if r["next"] is None:
                return items
            args["after"] = r["next"]

    def commands(self) -> dict[str, str]:
        """The daemon's commands (`help`): name -> help text."""
        return {c["name"]: c.get("help", "") for c in self.request("help")["commands"]}

    # ----- event stream -----
    def subscribe(self, entity: str = "", id: str = "") -> "Daemon":  # noqa: A002 (the API's word)
        """Open the event stream (server-side filter: entity prefix and/or id; empty = all).
        Idempotent while a stream is open. Raises ControlError / OSError if the daemon refuses."""
        if self.streaming:
            return self
        if self._reader is not None:
            self._reader.join(timeout=5)
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.settimeout(self.timeout)
            s.connect(str(self.path))
            rid = next(self._ids)
            s.sendall((json.dumps({"id": rid, "cmd": "subscribe",
                                   "args": {"entity": entity, "id": id}}) + "\n").encode())
            # Events may arrive before the answer only from a previous subscription; there is none.
            f = s.makefile("rb")
            line = f.readline()
        except BaseException:
            s.close()
            raise
        if not line:
            s.close()
            raise ControlError(f"{self.name}: subscribe: connection closed without an answer")
        r = json.loads(line)
        if not r.get("ok"):
            s.close()
            raise ControlError(f"{self.name}: subscribe: {r.get('error', r)}")
        s.settimeout(None)
        self._sock = s
        self._closed_reason = None
        self._reader = threading.Thread(target=self._read, args=(f,), name=f"events:{self.name}", daemon=True)
        self._reader.start()
        return self

    def _read(self, f) -> None:
        reason = "the daemon closed the event stream"
        try:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                try:
                    msg = json.loads(line)
                except json.JSONDecodeError as e:
                    reason = f"bad JSON on the event stream: {e}: {line[:200]!r}"
                    break
                with self._cond:
                    if isinstance(msg, dict) and isinstance(msg.get("event"), dict):
                        self._buf.append((self._next_seq, msg["event"]))
                        self._next_seq += 1
                    else:
                        self._answers.append(msg)
                    self._cond.notify_all()
        except (OSError, ValueError) as e:  # ValueError: file closed under us by close()
            reason = f"event stream error: {e}"
        with self._cond:
            self._closed_reason = reason
            self._cond.notify_all()

    @property
    def streaming(self) -> bool:
        """True while the event stream is open."""
        return self._reader is not None and self._reader.is_alive() and self._closed_reason is None

    def mark(self) -> int:
        """Sequence number the next event will get: `events(since=mark)` / `wait_for(since=mark)`
        then see only what happens from now on."""
        with self._cond:
            return self._next_seq

    def reset_cursor(self, to: int | None = None) -> None:
        """Start a new window at `to` (default: now): the next default wait_for and events() look
        at events from there on (the pytest fixtures call it at the start of each test)."""
        with self._cond:
            self._cursor = self._origin = self._next_seq if to is None else to

    def events(self, since: int | None = None, entity: str | None = None, **fields: Any) -> list[dict]:
        """Events received with sequence number >= since (default: since the last reset_cursor(),
        i.e. the test's start under the fixtures; 0: everything still in the buffer), optionally
        only those matching entity / fields (see event_matches). Oldest first."""
        with self._cond:
            since = self._origin if since is None else since
            snap = [e for seq, e in self._buf if seq >= since]
        return [e for e in snap if event_matches(e, entity, **fields)]

    def wait_for(self, entity: str | None = None, to: str | None = None, within: float = 2.0,
                 since: int | None = None, **fields: Any) -> dict:
        """Wait until an event matches and return it (a dict, Event::to_json()).

        entity: exact or dotted prefix ("dialout.session"); to: the new state; further fields as
        event_matches (id=, event=, cause=, from_=, or keys of `extra`; values or predicates).
        within: seconds (wall clock). since: look at events with sequence number >= since (a
        mark()); by default after the event the previous wait_for returned. Raises EventTimeout
        listing the events seen in that window; if the stream closes (daemon gone) it fails at once
        with the reason (subscribe() reopens it). Subscribes first if it never did.
        """
        if self._reader is None:   # never subscribed (a closed stream is reported, not reopened)
            self.subscribe()
        crit = dict(fields)
        if to is not None:
            crit["to"] = to
        what = ", ".join([f"entity={entity!r}"] * (entity is not None) +
                         [f"{k}={getattr(v, '__name__', v)!r}" for k, v in crit.items()]) or "at all"
        start = self._cursor if since is None else since
        deadline = time.monotonic() + within
        with self._cond:
            while True:
                for seq, e in self._buf:
                    if seq >= start and event_matches(e, entity, **crit):
                        if since is None:
                            self._cursor = seq + 1
                        return e
                seen = [e for seq, e in self._buf if seq >= start]
                if self._closed_reason is not None:
                    raise EventTimeout(self.name, f"({what})", within, seen, f" ({self._closed_reason})")
                left = deadline - time.monotonic()
                if left <= 0:
                    raise EventTimeout(self.name, f"({what})", within, seen)
                self._cond.wait(left)

    def close(self) -> None:
        """Close the event stream (requests still work). Idempotent."""
        s, self._sock = self._sock, None
        if s is not None:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        if self._reader is not None:
            self._reader.join(timeout=5)
            self._reader = None

    def __enter__(self) -> "Daemon":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

