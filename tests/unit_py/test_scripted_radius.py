"""dlab.proto.ScriptedRadius (bindings/src/scripted_radius.cpp) on loopback: answer with a function
of the request, drop, delay, spoof, and discard requests that do not verify. The client side is the
codecs of dlab.proto (Radius.access_request / verify_response)."""
from __future__ import annotations

import socket
import threading
import time

import pytest

SECRET = "scripted-secret"


@pytest.fixture
def server(native):
    """A ScriptedRadius on 127.0.0.1:<ephemeral>, served by a background thread; yields (srv, addr)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    srv = native.ScriptedRadius(sock, SECRET)
    stop = threading.Event()

    def loop():
        while not stop.is_set():
            srv.serve(0.05)
    t = threading.Thread(target=loop, daemon=True)
    t.start()
    yield srv, sock.getsockname()
    stop.set()
    t.join(5)
    sock.close()


def ask(native, addr, user="10.10.1.1@L2TP-dial-out.de.dt", identifier=7, secret=SECRET, within=1.0,
        message_authenticator=True):
    """Send an Access-Request; return (request, answer bytes or None, seconds until the answer)."""
    req = native.Radius.access_request(identifier, {"User-Name": user, "Service-Type": "Outbound-User"},
                                       secret=secret, message_authenticator=message_authenticator)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
        c.settimeout(within)
        t0 = time.monotonic()
        c.sendto(req.to_bytes(), addr)
        try:
            data, _ = c.recvfrom(4096)
        except socket.timeout:
            return req, None, time.monotonic() - t0
        return req, data, time.monotonic() - t0


@pytest.mark.req("LAB.scripted-radius")
def test_answers_with_a_function_of_the_request(native, server):
    srv, addr = server
    srv.handler = lambda r: native.Radius.access_accept(0, {"Reply-Message": "hello " + r.get("User-Name")})
    req, data, _ = ask(native, addr, user="alice", identifier=42)
    assert data is not None, f"no answer; history: {srv.history}"
    assert native.Radius.verify_response(data, req.authenticator, SECRET) == "ok", "answer must be signed (RFC 2865 §3)"
    ans = native.Radius.parse(data)
    assert ans.code_name == "Access-Accept" and ans.identifier == 42, f"{ans}: identifier must be the request's"
    assert ans.get("Reply-Message") == "hello alice", ans.get("Reply-Message")
    assert [r.get("User-Name") for r in srv.requests] == ["alice"], "request not recorded"


@pytest.mark.req("LAB.scripted-radius")
def test_none_drops(native, server):
    srv, addr = server
    srv.handler = lambda r: None
    _, data, _ = ask(native, addr, within=0.3)
    assert data is None, "a handler returning None must leave the request unanswered"
    assert srv.dropped == 1 and "dropped" in srv.history[-1], srv.history


@pytest.mark.req("LAB.scripted-radius")
def test_delay_answers_later_and_serves_others_meanwhile(native, server):
    srv, addr = server
    srv.handler = lambda r: native.RadiusReply(native.Radius.access_reject(0, {}), delay=0.4) \
        if r.get("User-Name") == "slow" else native.Radius.access_accept(0, {})
    result = {}
    th = threading.Thread(target=lambda: result.update(slow=ask(native, addr, user="slow", within=2.0)))
    th.start()
    _, fast, fast_t = ask(native, addr, user="fast", within=2.0)
    th.join(5)
    _, slow, slow_t = result["slow"]
    assert fast is not None and fast_t < 0.3, f"the fast request waited for the slow one ({fast_t:.3f}s)"
    assert slow is not None and 0.35 <= slow_t < 1.5, f"delayed answer after {slow_t:.3f}s, wanted ~0.4s"
    assert native.Radius.parse(slow).code_name == "Access-Reject", "wrong delayed answer"


@pytest.mark.req("LAB.scripted-radius")
def test_spoof_gives_an_answer_that_does_not_verify(native, server):
    srv, addr = server
    srv.handler = lambda r: native.RadiusReply(native.Radius.access_accept(0, {}), spoof=True)
    req, data, _ = ask(native, addr)
    assert data is not None, srv.history
    assert native.Radius.verify_response(data, req.authenticator, SECRET) == "bad_authenticator", \
        "a spoofed answer must fail the Response Authenticator check"


@pytest.mark.req("LAB.scripted-radius")
def test_request_with_wrong_secret_is_discarded(native, server):
    srv, addr = server
    srv.handler = lambda r: native.Radius.access_accept(0, {})
    _, data, _ = ask(native, addr, secret="not-the-secret", within=0.3)
    assert data is None, "RFC 3579 §3.2: a bad Message-Authenticator is silently discarded"
    assert srv.unverified == 1 and srv.requests == [], f"{srv.unverified} {srv.history}"


@pytest.mark.req("LAB.scripted-radius")
def test_handler_error_and_bad_return_are_logged_not_fatal(native, server):
    srv, addr = server
    srv.handler = lambda r: 1 / 0
    _, data, _ = ask(native, addr, within=0.3)
    assert data is None and "ZeroDivisionError" in srv.history[-1], srv.history
    srv.handler = lambda r: "accept"
    _, data, _ = ask(native, addr, within=0.3)
    assert data is None and "not Radius / RadiusReply / None" in srv.history[-1], srv.history
    assert srv.handler_errors == 2, srv.handler_errors
    srv.handler = lambda r: native.Radius.access_accept(0, {})
    assert ask(native, addr)[1] is not None, "server must keep serving after handler errors"


@pytest.mark.req("LAB.scripted-radius")
def test_raw_reply_and_reply_validation(native, server):
    srv, addr = server
    srv.handler = lambda r: native.RadiusReply(raw=b"\x02\x07\x00")
    _, data, _ = ask(native, addr)
    assert data == b"\x02\x07\x00", f"raw octets not sent as given: {data!r}"
    with pytest.raises(ValueError, match="needs packet= or raw="):
        native.RadiusReply()
    with pytest.raises(ValueError, match=">= 0"):
        native.RadiusReply(native.Radius.access_accept(0, {}), delay=-1)
