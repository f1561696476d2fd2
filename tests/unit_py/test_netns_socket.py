"""dlab.netns.socket_in: sockets created inside lab namespaces from this process (the mini lab of
tests/lab: hosts a and b on the p2p link 192.0.2.0/30), and a scripted L2TP exchange across it.
Needs root (network namespaces); skipped otherwise."""
from __future__ import annotations

import errno
import os
import socket
from pathlib import Path

import pytest

from dlab import netns
from dlab import proto as P

REPO = Path(__file__).resolve().parents[2]
MINI = REPO / "tests" / "lab" / "topologies" / "mini.yaml"

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")


@pytest.fixture(scope="module")
def mini(tmp_path_factory):
    from dlab import lab as L
    from dlab import topology as T
    with L.Lab(T.load(MINI), run_dir=tmp_path_factory.mktemp("mini"), capture=False) as lab:
        yield lab


def my_netns() -> str:
    return os.readlink("/proc/thread-self/ns/net")


def test_socket_lives_in_the_namespace_and_the_caller_does_not_move(mini):
    before = my_netns()
    a = netns.socket_in(mini.ns("a"))
    b = netns.socket_in(mini.ns("b"), socket.AF_INET, socket.SOCK_DGRAM)
    try:
        assert my_netns() == before
        a.bind(("192.0.2.1", 0))        # an address that exists only in host a's namespace
        b.bind(("192.0.2.2", 1701))
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as root:
            with pytest.raises(OSError) as e:
                root.bind(("192.0.2.1", 0))
            assert e.value.errno == errno.EADDRNOTAVAIL
        a.sendto(b"ping", ("192.0.2.2", 1701))
        b.settimeout(2.0)
        data, src = b.recvfrom(100)
        assert data == b"ping" and src[0] == "192.0.2.1"
    finally:
        a.close()
        b.close()


def test_scripted_lac_and_lns_across_the_link(mini):
    a = netns.socket_in(mini.ns("a"))
    b = netns.socket_in(mini.ns("b"))
    try:
        a.bind(("192.0.2.1", 1701))
        b.bind(("192.0.2.2", 1701))
        lac = P.ScriptedL2tp(a, peer=("192.0.2.2", 1701))
        lns = P.ScriptedL2tp(b)
        lac.send(P.L2TP.sccrq(assigned_tunnel_id=5, host_name="lac"))
        assert lns.expect("SCCRQ", within=2.0).host_name == "lac"
        assert lns.peer == ("192.0.2.1", 1701)
        ack = lac.expect("ZLB", within=2.0)
        assert (ack.tunnel_id, ack.nr) == (5, 1)
    finally:
        a.close()
        b.close()


def test_errors():
    with pytest.raises(netns.NetnsError):
        netns.socket_in("dl-nosuchrun-x")
    with pytest.raises(netns.NetnsError):
        netns.socket_in("not-a-lab-namespace")
