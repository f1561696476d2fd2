"""User-mode Linux guests as lab hosts: a Linux kernel with PPP and L2TP (Debian's `user-mode-linux`,
modules under /usr/lib/uml/modules) for third-party peers the host kernel cannot run — pppd on a
serial line, xl2tpd with kernel L2TP.

A guest is one more process of a `Lab`: `Guest(lab, name, host, ...).start()` boots
``/usr/bin/linux.uml`` inside `host`'s namespace with the host filesystem as its read-only root
(hostfs) and ``uml_init.sh`` as PID 1, tracked like every lab process (pid, process group, registry
entry in /run/dlab, console in ``<run>/logs/<name>.log``). Each guest has, under
``<run>/guests/<name>/``:

- ``etc-ppp/``  mounted on the guest's /etc/ppp (its own options, chap-secrets, pap-secrets);
- ``out/``      mounted writable on /mnt/out (pppd / xl2tpd logs and anything the guest writes);
- ``run.sh``    the guest's workload, sourced by PID 1 before it prints ``dlab-guest ready``;
- ``uml/``      the kernel's uml_dir (mconsole socket, pid file), removed by the kernel at exit.

Stopping (`Lab.down`, also on test failure): "stop" on the console makes PID 1 power off with
sysrq o; after a bounded wait the process group is signalled (TERM, then KILL) like any lab process.

Serial lines: `serial=N` gives the guest /dev/ttyS0 … ttyS<N-1>, each on one end of a Unix
socketpair (``sslK=fd:F``); `Guest.line_fds[K]` is the host's end, to hand to a relay (cpe-line). LAN
interfaces: `nets=[(ifname, "raw")]` attaches an existing interface of the namespace with a raw
socket (vector driver ``vecN:transport=raw``), `(ifname, "tap")` a tap device created here.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from .wait import WaitTimeout, wait_for

KERNEL = Path("/usr/bin/linux.uml")
MODULES = Path("/usr/lib/uml/modules")
INIT = Path(__file__).with_name("uml_init.sh")
READY = "dlab-guest ready"


class GuestUnavailable(RuntimeError):
    """This machine cannot run a UML guest; the message says what is missing."""


def unavailable_reason() -> str | None:
    """Why a UML guest cannot run here (None when it can): the kernel, its modules, modprobe
    (package kmod), pppd (package ppp), /dev/net/tun (tap interfaces), root."""
    if os.geteuid() != 0:
        return "UML guests in lab namespaces need root"
    if not KERNEL.exists():
        return f"{KERNEL} missing (Debian package user-mode-linux)"
    if not MODULES.is_dir() or not any(MODULES.iterdir()):
        return f"{MODULES} has no module tree (Debian package user-mode-linux)"
    for tool, pkg in (("modprobe", "kmod"), ("pppd", "ppp")):
        if shutil.which(tool, path="/usr/sbin:/usr/bin:/sbin:/bin") is None:
            return f"{tool} missing (Debian package {pkg})"
    if not Path("/dev/net/tun").exists():
        return "/dev/net/tun missing"
    return None


@dataclass
class Guest:
    """One UML guest of a lab. `mem`: guest RAM (kernel syntax, e.g. "96M"); `run_script`: shell
    text sourced by PID 1 (environment: MODPROBE = modprobe with the UML module tree); `etc_ppp`:
    file name -> content written to its /etc/ppp (secrets files get mode 0600)."""
    lab: object
    name: str
    host: str
    run_script: str = ""
    etc_ppp: dict[str, str] = field(default_factory=dict)
    serial: int = 0
    nets: list[tuple[str, str]] = field(default_factory=list)
    mem: str = "96M"
    boot_within: float = 60.0
    boot_seconds: float | None = None
    line_fds: list[int] = field(default_factory=list)
    tracked: object = None
    _runs: int = 0

    @property
    def dir(self) -> Path:
        return self.lab.run_dir / "guests" / self.name

    @property
    def out(self) -> Path:
        """Host path of the guest's /mnt/out."""
        return self.dir / "out"

    def _write_files(self) -> None:
        for d in ("etc-ppp", "out", "uml"):
            (self.dir / d).mkdir(parents=True, exist_ok=True)
        for fname, text in self.etc_ppp.items():
            f = self.dir / "etc-ppp" / fname
            f.write_text(text)
            f.chmod(0o600 if "secrets" in fname else 0o755 if text.startswith("#!") else 0o644)
        (self.dir / "run.sh").write_text(self.run_script + "\n")

    def argv(self, serial_fds: tuple[int, ...] = ()) -> list[str]:
        """The linux.uml command line (documented in the Linux UML howto: hostfs root, con/ssl
        channels, the vector driver's vecN: transports)."""
        a = [str(KERNEL), f"mem={self.mem}", "root=/dev/root", "rootfstype=hostfs", "rootflags=/", "ro",
             f"init={INIT}", "quiet", "con=null", "ssl=null", "con0=fd:0,fd:1",
             f"umid={self.lab.runid}-{self.name}", f"uml_dir={self.dir / 'uml'}",
             f"DLAB_OUT={self.out}", f"DLAB_ETC_PPP={self.dir / 'etc-ppp'}", f"DLAB_RUN={self.dir / 'run.sh'}",
             f"DLAB_GUEST={self.dir}"]
        for k, fd in enumerate(serial_fds):
            a.append(f"ssl{k}=fd:{fd},fd:{fd}")
        for i, (ifname, transport) in enumerate(self.nets):
            a.append(f"vec{i}:transport={transport},ifname={ifname}")
        return a

    def start(self) -> "Guest":
        """Boot the guest and wait (≤ boot_within s) for its ready line; `boot_seconds` is the
        measured time. Raises GuestUnavailable when the machine cannot, LabError when it fails."""
        why = unavailable_reason()
        if why:
            raise GuestUnavailable(why)
        self._write_files()
        ns = self.lab.ns(self.host)
        for ifname, transport in self.nets:
            if transport == "tap":
                subprocess.run(["ip", "-n", ns, "tuntap", "add", ifname, "mode", "tap"], check=True)
            subprocess.run(["ip", "-n", ns, "link", "set", ifname, "up", "promisc", "on"], check=True)
        guest_ends = []
        for _ in range(self.serial):
            host_end, guest_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            self.line_fds.append(host_end.detach())
            guest_ends.append(guest_end)
        t0 = time.monotonic()
        try:
            fds = tuple(g.fileno() for g in guest_ends)
            self.tracked = self.lab.start(self.name, self.host, self.argv(fds), ready=READY,
                                          within=self.boot_within, stdin_pipe=True, pass_fds=fds)
        finally:
            for g in guest_ends:
                g.close()
        self.boot_seconds = time.monotonic() - t0
        self.tracked.before_stop = self.power_off
        return self

    def power_off(self, within: float = 10.0) -> bool:
        """Clean stop: "stop" on the console (PID 1 runs sysrq o), then wait ≤ `within` s for the
        kernel to exit. True if it did; the caller signals the process group either way."""
        t = self.tracked
        if t is None or t.popen is None or t.popen.poll() is not None:
            return True
        try:
            t.popen.stdin.write(b"stop\n")
            t.popen.stdin.flush()
        except (BrokenPipeError, OSError):
            pass
        try:
            wait_for(lambda: t.popen.poll() is not None, within, f"guest {self.name} to power off")
            return True
        except WaitTimeout:
            return False
        finally:
            self.close_lines()

    def close_lines(self) -> None:
        """Closes the host's ends of the serial lines (once handed to relays, they hold copies)."""
        for fd in self.line_fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.line_fds.clear()

    def run(self, script: str, within: float = 20.0) -> int:
        """Run shell text in the guest (as root, from PID 1) and wait ≤ `within` s for its exit
        status, which is returned; WaitTimeout (naming the script) if it does not finish."""
        self._runs += 1
        f = self.dir / f"cmd-{self._runs}.sh"
        f.write_text(script + "\n")
        mark = f"dlab-guest done {f} "
        self.tracked.popen.stdin.write(f"run {f}\n".encode())
        self.tracked.popen.stdin.flush()

        def status():
            for line in self.console().splitlines():
                if line.startswith(mark):
                    return int(line[len(mark):].strip() or 0) + 1   # +1: status 0 is truthy
            return None
        return wait_for(status, within, f"guest {self.name} to run {f.name}") - 1

    def console(self) -> str:
        """The guest's console output so far."""
        return self.tracked.log_text() if self.tracked else ""

    def read_out(self, name: str) -> str:
        """A file the guest wrote under /mnt/out ("" if absent)."""
        try:
            return (self.out / name).read_text(errors="replace")
        except OSError:
            return ""



def xl2tpd_guest(lab, name: str, host: str, instances: dict[str, str], etc_ppp: dict[str, str],
                 link: str = "core", extra: list[str] = ()) -> Guest:
    """A started guest in lab host `host`, on its `link` (the guest's vec0, raw; the host's own
    address there is flushed), running one xl2tpd with kernel L2TP (PPPoL2TP, module l2tp_ppp) per
    item of `instances`: address (/24 on vec0) -> name of its xl2tpd.conf(5) in `etc_ppp` (the
    guest's /etc/ppp). Instance `<stem>.conf` logs to /mnt/out/<stem>.log (`Guest.read_out`) and
    takes commands on the control pipe /var/run/xl2tpd/<stem>.control (xl2tpd(8)). /var is a
    tmpfs over the read-only root (run and lock pointing at the guest's /run): xl2tpd's pppd for
    an outgoing call also reads /var/l2tp/<number>.options. `extra`: shell lines run before xl2tpd."""
    lab.exec(host, ["ip", "addr", "flush", "dev", link])
    run = ["$MODPROBE l2tp_ppp > /mnt/out/modprobe.log 2>&1", "ip link set vec0 up",
           "mount -t tmpfs tmpfs /var", "ln -s /run /var/run", "ln -s /run /var/lock",
           "mkdir -p /var/l2tp /var/run/xl2tpd", *extra]
    for address, conf in instances.items():
        stem = conf.removesuffix(".conf")
        run += [f"ip addr add {address}/24 dev vec0",
                f"xl2tpd -D -c /etc/ppp/{conf} -p /run/{stem}.pid -C /var/run/xl2tpd/{stem}.control "
                f"> /mnt/out/{stem}.log 2>&1 &"]
    return Guest(lab, name, host, nets=[(link, "raw")], etc_ppp=etc_ppp, run_script="\n".join(run)).start()


def xl2tpd_guest_hook(name: str, host: str, instances: dict[str, str], etc_ppp: dict[str, str],
                      extra: list[str] = (), ready_log: str | None = None):
    """A `start` hook of dlab.dialout_lab.LabSpec (run once the lab's daemons are up): the
    xl2tpd_guest(lab, name, host, instances, etc_ppp, extra=extra) of a test module as
    `lab.guest`, its boot time printed (the figure docs/interop.md quotes); with `ready_log`, also
    a bounded wait until that instance's log says it listens. GuestUnavailable when the machine
    cannot run a guest (a module skips before: `unavailable_reason()`)."""
    def start(lab) -> None:
        lab.guest = xl2tpd_guest(lab, name, host, instances, etc_ppp, extra=extra)
        print(f"\nUML guest ({name}) booted in {lab.guest.boot_seconds:.1f} s")
        if ready_log:
            wait_for(lambda: "Listening on IP address" in lab.guest.read_out(ready_log), 20,
                     f"{ready_log}: xl2tpd listening")
    return start
