"""dlab.uml: a user-mode Linux guest as a lab host process — boots in a lab namespace, owns a LAN
interface on the namespace's veth, talks over a socketpair serial line, writes to its /mnt/out,
loads the UML kernel's PPP modules, and is gone (kernel and every guest process, its uml_dir)
after the lab's teardown, also when the `with Lab` block fails."""
from __future__ import annotations

import os

import pytest

from dlab import lab as L
from dlab import procs, topology as T, uml
from dlab.wait import wait_for

pytestmark = pytest.mark.interop

TOPO = {"name": "uml", "hosts": {"a": {}, "b": {}},
        "links": [{"name": "lan", "ends": {"a": "10.99.0.1/24", "b": "10.99.0.2/24"}}]}


class Boom(RuntimeError):
    pass


def test_guest_boots_talks_and_leaves_nothing_behind_when_the_test_fails():
    why = uml.unavailable_reason()
    if why:
        pytest.skip(why)
    seen = {}
    with pytest.raises(Boom):
        with L.Lab(T.parse(TOPO), capture=False) as lab:
            lab.exec("a", ["ip", "addr", "flush", "dev", "lan"])
            g = uml.Guest(lab, "guest", "a", serial=1, nets=[("lan", "raw")],
                          etc_ppp={"options": "# test\n", "chap-secrets": "a * b *\n"},
                          run_script="$MODPROBE ppp_async > /mnt/out/modprobe.log 2>&1\n"
                                     "ip link set vec0 up\nip addr add 10.99.0.1/24 dev vec0\n"
                                     "cat /etc/ppp/options > /mnt/out/options-seen\n"
                                     "( cat /dev/ttyS0 > /mnt/out/serial ) &").start()
            seen["pid"], seen["pgid"], seen["dir"] = g.tracked.pid, g.tracked.pgid, g.dir
            assert g.boot_seconds and g.boot_seconds < g.boot_within
            # its own /etc/ppp, the UML module tree, the LAN interface on the lab's veth
            assert g.read_out("options-seen") == "# test\n"
            assert oct((g.dir / "etc-ppp" / "chap-secrets").stat().st_mode & 0o777) == "0o600"
            assert g.run("grep -q '^ppp_async ' /proc/modules") == 0, g.read_out("modprobe.log")
            assert g.run("exit 3") == 3
            assert lab.ping("b", "10.99.0.1", count=2, wait=2), g.console()[-2000:]
            # the serial line: bytes written on the host's end arrive on the guest's /dev/ttyS0
            os.write(g.line_fds[0], b"hello ttyS0\n")
            wait_for(lambda: "hello ttyS0" in g.read_out("serial"), 10, "bytes on the guest's ttyS0")
            assert "dlab-guest ready" in g.console()
            raise Boom("the test fails with the guest up")
    # teardown ran: the kernel's process group is gone, its uml_dir cleaned, no namespace left
    assert not procs.pgid_alive(seen["pgid"]) and not procs.pid_alive(seen["pid"])
    assert not any((seen["dir"] / "uml").iterdir()), list((seen["dir"] / "uml").iterdir())
    assert not [ns for ns in L.netns.list_lab_namespaces() if lab.runid in ns]
    assert "dlab-guest stopping" in (lab.run_dir / "logs" / "guest.log").read_text(), "clean power-off (sysrq o)"
