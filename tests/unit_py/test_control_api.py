"""dlab.control_api.Daemon against a fake control server (a Unix socket speaking the ControlServer's
JSON lines: lns/core/src/control.cpp): requests, errors, the event stream, wait_for and its
timeout message. No namespaces, no daemons."""
from __future__ import annotations

import json
import socket
import threading
import time

import pytest

from dlab.control_api import ControlError, Daemon, EventTimeout, event_matches, format_event, request


class FakeControl:
    """Answers `cmd` with `results[cmd]` (an Exception instance -> ok=false); `subscribe` is
    acknowledged, and `emit(event)` then writes `{"event": ...}` to every subscriber."""

    def __init__(self, path, results=None):
        self.path = str(path)
        self.results = {"help": {"commands": [{"name": "help", "help": "list the commands"},
                                              {"name": "show state", "help": "state"}]}}
        self.results.update(results or {})
        self.requests: list[dict] = []
        self.subscribers: list[socket.socket] = []
        self.subscribed = threading.Event()
        self.srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.srv.bind(self.path)
        self.srv.listen()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.srv.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(c,), daemon=True).start()

    def _serve(self, c):
        f = c.makefile("rb")
        for line in f:
            req = json.loads(line)
            self.requests.append(req)
            cmd = req["cmd"]
            if cmd == "subscribe":
                with self.lock:
                    self.subscribers.append(c)
                    c.sendall((json.dumps({"id": req["id"], "ok": True, "result": {"subscribed": True}}) + "\n").encode())
                self.subscribed.set()
                continue
            r = self.results.get(cmd, KeyError(f"unknown command '{cmd}' (try 'help')"))
            if callable(r):
                try:
                    r = r(req.get("args", {}))
                except Exception as e:  # noqa: BLE001 (answered as the daemon would)
                    r = e
            if isinstance(r, Exception):
                ans = {"id": req["id"], "ok": False, "error": str(r).strip("'\"")}
                if getattr(r, "param", None):
                    ans["param"] = r.param
            else:
                ans = {"id": req["id"], "ok": True, "result": r}
            c.sendall((json.dumps(ans) + "\n").encode())

    def emit(self, **event):
        e = {"time_ns": time.monotonic_ns(), "entity": "", "id": "", "from": "", "to": "", "event": "",
             "cause": ""}
        e.update(event)
        with self.lock:
            for c in self.subscribers:
                c.sendall((json.dumps({"event": e}) + "\n").encode())

    def drop_subscribers(self):
        with self.lock:
            for c in self.subscribers:
                c.shutdown(socket.SHUT_RDWR)
            self.subscribers.clear()

    def close(self):
        self.srv.close()
        self.drop_subscribers()


@pytest.fixture
def fake(tmp_path):
    f = FakeControl(tmp_path / "d.sock", {"show state": {"state": "idle"},
                                           "show l2tp dial-out session": [{"session": "k", "state": "inService"}],
                                           "fail": RuntimeError("it failed on purpose")})
    yield f
    f.close()


@pytest.fixture
def daemon(fake):
    d = Daemon(fake.path, name="fake")
    yield d
    d.close()


def session(fake, frm, to, key="default/10.10.0.0/16/10.10.1.1", **kw):
    fake.emit(entity="dialout.session", id=key, **{"from": frm}, to=to, event=kw.pop("event", "ev"), **kw)


@pytest.mark.req("LAB.control-api")
def test_request_returns_result_and_passes_args(fake, daemon):
    assert daemon.show("state") == {"state": "idle"}, "show('state') must send 'show state'"
    rows = daemon.show("l2tp dial-out session", id="k", detail=True)
    assert rows == [{"session": "k", "state": "inService"}], f"unexpected result {rows}"
    assert fake.requests[-1]["args"] == {"id": "k", "detail": True}, f"args not sent: {fake.requests[-1]}"
    assert daemon.commands()["show state"] == "state", "help not turned into a name -> help map"


@pytest.mark.req("LAB.control-api")
def test_request_error_names_daemon_and_command(daemon):
    with pytest.raises(ControlError, match=r"fake: fail: it failed on purpose"):
        daemon.request("fail")
    with pytest.raises(ControlError, match="unknown command"):
        daemon.request("no such thing")


@pytest.mark.req("LAB.control-api")
def test_request_without_socket_is_oserror(tmp_path):
    with pytest.raises(OSError):
        request(tmp_path / "absent.sock", "help", timeout=1)


@pytest.mark.req("LAB.control-api")
def test_wait_for_returns_the_matching_event(fake, daemon):
    daemon.subscribe()
    assert fake.subscribed.wait(2), "the client never sent subscribe"
    assert fake.requests[0] == {"id": 1, "cmd": "subscribe", "args": {"entity": "", "id": ""}}, fake.requests

    def later():
        session(fake, "idle", "authorizing")
        session(fake, "authorizing", "inService", cause="ppp-up", extra={"tunnel": 7})
    threading.Thread(target=later, daemon=True).start()
    ev = daemon.wait_for(entity="dialout.session", to="inService", within=2.0)
    assert ev["from"] == "authorizing" and ev["cause"] == "ppp-up", f"wrong event returned: {ev}"
    assert daemon.wait_for(entity="dialout", to="authorizing", since=0)["to"] == "authorizing", \
        "a dotted-prefix entity and since=0 must find the earlier event"
    assert [e["to"] for e in daemon.events()] == ["authorizing", "inService"], daemon.events()
    assert daemon.events(entity="dialout.session", tunnel=7)[0]["to"] == "inService", \
        "fields must also match keys of `extra`"


@pytest.mark.req("LAB.control-api")
def test_wait_for_consumes_so_successive_waits_follow_order(fake, daemon):
    daemon.subscribe()
    for frm, to in (("idle", "up"), ("up", "down"), ("down", "up")):
        session(fake, frm, to)
    first = daemon.wait_for(entity="dialout.session", to="up", within=2.0)
    down = daemon.wait_for(entity="dialout.session", to="down", within=2.0)
    second = daemon.wait_for(entity="dialout.session", to="up", within=2.0)
    assert (first["from"], down["from"], second["from"]) == ("idle", "up", "down"), \
        f"waits did not advance in order: {first}, {down}, {second}"
    m = daemon.mark()
    with pytest.raises(EventTimeout):
        daemon.wait_for(entity="dialout.session", to="up", within=0.2, since=m)


@pytest.mark.req("LAB.control-api")
def test_wait_for_field_predicates_and_from(fake, daemon):
    daemon.subscribe()
    session(fake, "idle", "up", key="vr-b/10.10.0.0/16/10.10.1.1")
    session(fake, "idle", "up", key="default/10.10.0.0/16/10.10.1.1")
    ev = daemon.wait_for(entity="dialout.session", to="up", id=lambda i: i.startswith("default/"), from_="idle",
                         within=2.0)
    assert ev["id"].startswith("default/"), f"predicate on id ignored: {ev}"


@pytest.mark.req("LAB.control-api")
def test_timeout_lists_the_events_seen(fake, daemon):
    daemon.subscribe()
    session(fake, "idle", "authorizing")
    session(fake, "authorizing", "failed", cause="aaa-reject")
    daemon.wait_for(entity="dialout.session", to="failed", since=0, within=2.0)  # both are in the buffer
    t0 = time.monotonic()
    with pytest.raises(EventTimeout) as ei:
        daemon.wait_for(entity="dialout.session", to="inService", within=0.3, since=0)
    took = time.monotonic() - t0
    msg = str(ei.value)
    assert 0.25 <= took < 2.0, f"timeout after {took:.2f}s, asked for 0.3s"
    assert "fake: no event (entity='dialout.session', to='inService') within 0.3s" in msg, msg
    assert "idle -> authorizing" in msg and "authorizing -> failed on ev (cause=aaa-reject)" in msg, msg
    assert [e["to"] for e in ei.value.seen] == ["authorizing", "failed"], ei.value.seen


@pytest.mark.req("LAB.control-api")
def test_stream_closed_fails_at_once_with_reason(fake, daemon):
    daemon.subscribe()
    assert fake.subscribed.wait(2), "no subscription"
    fake.drop_subscribers()
    t0 = time.monotonic()
    with pytest.raises(EventTimeout, match="closed the event stream"):
        daemon.wait_for(entity="x", within=5.0)
    assert time.monotonic() - t0 < 2.0, "a closed stream must not wait out the deadline"


@pytest.mark.req("LAB.control-api")
def test_buffer_is_bounded_and_sequence_numbers_continue(fake):
    d = Daemon(fake.path, name="small", buffer=5).subscribe()
    try:
        for i in range(12):
            fake.emit(entity="t", id=str(i))
        d.wait_for(entity="t", id="11", within=2.0, since=0)
        ids = [e["id"] for e in d.events()]
        assert ids == ["7", "8", "9", "10", "11"], f"buffer kept {ids}"
        assert d.mark() == 12, f"sequence numbers must count every event, got {d.mark()}"
        assert [e["id"] for e in d.events(since=10)] == ["10", "11"], d.events(since=10)
    finally:
        d.close()


@pytest.mark.req("LAB.control-api")
def test_subscribe_refused_is_an_error(tmp_path):
    f = FakeControl(tmp_path / "r.sock")
    def serve(c):
        line = c.makefile("rb").readline()
        req = json.loads(line)
        c.sendall((json.dumps({"id": req["id"], "ok": False, "error": "this server has no event bus"}) + "\n").encode())
    f._serve = serve  # this fake refuses subscribe, like a server without an event bus
    try:
        with pytest.raises(ControlError, match="no event bus"):
            Daemon(f.path, name="nobus").subscribe()
    finally:
        f.close()


@pytest.mark.req("LAB.control-api")
def test_format_event_and_matches():
    e = {"entity": "l2tp.tunnel", "id": "3", "from": "idle", "to": "wait-ctl-reply", "event": "open",
         "cause": "", "extra": {"peer": "198.51.100.2"}}
    assert format_event(e) == 'l2tp.tunnel:3 idle -> wait-ctl-reply on open {"peer": "198.51.100.2"}', format_event(e)
    assert event_matches(e, "l2tp", peer="198.51.100.2"), "prefix entity + extra field must match"
    assert not event_matches(e, "l2", to="wait-ctl-reply"), "'l2' is not a dotted prefix of 'l2tp.tunnel'"
    assert not event_matches(e, None, absent="x"), "a field the event lacks must not match"


@pytest.mark.req("LAB.control-api")
def test_reset_cursor_starts_a_new_window_for_events_and_wait_for(fake, daemon):
    daemon.subscribe()
    session(fake, "idle", "up")
    daemon.wait_for(entity="dialout.session", to="up", within=2.0)
    daemon.reset_cursor()                       # what the fixtures do at the start of a test
    assert daemon.events() == [], f"events() must start at the reset: {daemon.events()}"
    assert len(daemon.events(since=0)) == 1, "since=0 still reaches the whole buffer"
    with pytest.raises(EventTimeout):
        daemon.wait_for(entity="dialout.session", to="up", within=0.2)
    session(fake, "up", "down")
    daemon.wait_for(entity="dialout.session", to="down", within=2.0)
    assert [e["to"] for e in daemon.events(entity="dialout")] == ["down"], daemon.events(since=0)


class _ArgError(ValueError):
    def __init__(self, param, message):
        super().__init__(f"{param}: {message}")
        self.param = param


def _paged_listing(keys):
    """A listing answered like lnsd's paged `show` commands (limit / after, items / total / next)."""
    def answer(args):
        limit = args.get("limit", 1000)
        if not isinstance(limit, int) or not 1 <= limit <= 10000:
            raise _ArgError("limit", f"'{limit}' is not an integer 1..10000")
        rest = [k for k in keys if "after" not in args or k > args["after"]]
        page = rest[:limit]
        return {"items": [{"id": k} for k in page], "total": len(keys),
                "next": page[-1] if len(rest) > limit else None}
    return answer


@pytest.mark.req("LAB.control-api")
def test_show_all_follows_next_and_errors_name_the_parameter(tmp_path):
    keys = [f"{i:03d}" for i in range(25)]
    f = FakeControl(tmp_path / "p.sock", {"show l2tp session": _paged_listing(keys)})
    try:
        d = Daemon(f.path, name="lnsd")
        assert [x["id"] for x in d.show_all("l2tp session", page=10)] == keys
        asked = [r["args"] for r in f.requests if r["cmd"] == "show l2tp session"]
        assert asked == [{"limit": 10}, {"limit": 10, "after": "009"}, {"limit": 10, "after": "019"}], asked
        with pytest.raises(ControlError, match="limit: '0' is not an integer") as e:
            d.show("l2tp session", limit=0)
        assert e.value.param == "limit"
        d.close()
    finally:
        f.close()
