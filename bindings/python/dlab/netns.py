"""Network namespaces and links, through iproute2. Lab safety (docs/architecture.md "Lab safety"): every call here names
a `dl-<runid>-*` namespace; nothing is ever created in the root namespace.
"""
from __future__ import annotations

import os
import subprocess

PREFIX = "dl-"


class NetnsError(RuntimeError):
    """An iproute2 command failed; the message holds the command and its stderr."""


def ns_name(runid: str, host: str) -> str:
    """Namespace of `host` in run `runid`: dl-<runid>-<host>."""
    return f"{PREFIX}{runid}-{host}"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    cmd = ["ip", *args]
    cp = subprocess.run(cmd, capture_output=True, text=True)
    if check and cp.returncode != 0:
        raise NetnsError(f"{' '.join(cmd)}: {cp.stderr.strip() or cp.stdout.strip()}")
    return cp


def _guard(ns: str) -> None:
    if not ns.startswith(PREFIX):
        raise NetnsError(f"refusing to touch namespace {ns!r}: lab namespaces are named {PREFIX}<runid>-<host>")


def list_lab_namespaces() -> list[str]:
    """All namespaces named dl-* on this machine."""
    cp = _ip("netns", "list", check=False)
    return sorted(line.split()[0] for line in cp.stdout.splitlines() if line.startswith(PREFIX))


def create(ns: str, sysctls: dict[str, str] | None = None) -> None:
    """Create namespace `ns` with loopback up, IPv6 off (clean captures) and forwarding on."""
    _guard(ns)
    _ip("netns", "add", ns)
    _ip("-n", ns, "link", "set", "lo", "up")
    settings = {"net.ipv6.conf.all.disable_ipv6": "1", "net.ipv6.conf.default.disable_ipv6": "1",
                "net.ipv4.ip_forward": "1"}
    settings.update(sysctls or {})
    sysctl_many(ns, settings)


def bridge_netfilter_off() -> dict[str, str]:
    """The sysctls that keep a namespace's bridges out of netfilter: bridged frames then skip
    iptables / ip6tables / arptables (br_netfilter's `bridge-nf-call-*`, per namespace). A lab
    segment is a plain switch with no rules, yet with br_netfilter loaded (a Docker host loads it)
    every frame crossing it ran the hooks, and veth delivery charges that work to the sending
    process. {} when br_netfilter is not loaded (no /proc/sys/net/bridge): nothing to turn off."""
    if not os.path.isdir("/proc/sys/net/bridge"):
        return {}
    return {f"net.bridge.bridge-nf-call-{t}": "0" for t in ("iptables", "ip6tables", "arptables")}


def sysctl(ns: str, key: str, value: str) -> None:
    """Set a sysctl inside `ns` (through /proc/sys, as `ip netns exec ns sysctl` would)."""
    _guard(ns)
    cp = subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w", f"{key}={value}"],
                        capture_output=True, text=True)
    if cp.returncode != 0:
        raise NetnsError(f"sysctl {key}={value} in {ns}: {cp.stderr.strip()}")


def sysctl_many(ns: str, settings: dict[str, str]) -> None:
    """Set several sysctls inside `ns` with one `sysctl -w` (one process, not one per key)."""
    _guard(ns)
    if not settings:
        return
    cp = subprocess.run(["ip", "netns", "exec", ns, "sysctl", "-q", "-w",
                         *(f"{k}={v}" for k, v in settings.items())], capture_output=True, text=True)
    if cp.returncode != 0:
        raise NetnsError(f"sysctl {' '.join(f'{k}={v}' for k, v in settings.items())} in {ns}: {cp.stderr.strip()}")


def delete(ns: str) -> None:
    """Delete namespace `ns` (its interfaces go with it). Missing namespace is not an error."""
    _guard(ns)
    _ip("netns", "del", ns, check=False)


def veth(ns_a: str, if_a: str, ns_b: str, if_b: str) -> None:
    """A veth pair created inside ns_a with its peer moved straight into ns_b (never in root)."""
    _guard(ns_a)
    _guard(ns_b)
    for name in (if_a, if_b):
        if len(name) > 15:
            raise NetnsError(f"interface name {name!r} is longer than 15 characters")
    _ip("-n", ns_a, "link", "add", if_a, "type", "veth", "peer", "name", if_b, "netns", ns_b)
    _ip("-n", ns_a, "link", "set", if_a, "up")
    _ip("-n", ns_b, "link", "set", if_b, "up")


def bridge(ns: str, name: str) -> None:
    """A Linux bridge `name` inside `ns`, up, with no STP (a lab segment)."""
    _guard(ns)
    _ip("-n", ns, "link", "add", name, "type", "bridge", "stp_state", "0", "forward_delay", "0")
    _ip("-n", ns, "link", "set", name, "up")


def enslave(ns: str, port: str, br: str) -> None:
    _guard(ns)
    _ip("-n", ns, "link", "set", port, "master", br)


def addr_add(ns: str, dev: str, cidr: str) -> None:
    _guard(ns)
    _ip("-n", ns, "addr", "add", cidr, "dev", dev)


def route_add(ns: str, to: str, via: str | None = None, dev: str | None = None) -> None:
    _guard(ns)
    args = ["-n", ns, "route", "add", to]
    if via:
        args += ["via", via]
    if dev:
        args += ["dev", dev]
    _ip(*args)


def pids(ns: str) -> list[int]:
    """PIDs of processes whose network namespace is `ns` (iproute2 `ip netns pids`)."""
    _guard(ns)
    cp = _ip("netns", "pids", ns, check=False)
    return [int(x) for x in cp.stdout.split() if x.isdigit()]


def exec_argv(ns: str, argv: list[str]) -> list[str]:
    """argv that runs `argv` inside `ns`."""
    _guard(ns)
    return ["ip", "netns", "exec", ns, *argv]


CLONE_NEWNET = 0x40000000  # <sched.h>


def socket_in(ns: str, family: int = 2, type: int = 2, proto: int = 0):  # noqa: A002 (socket's own names)
    """A socket created inside network namespace `ns`, from the calling process (no `ip netns exec`).

    Namespace membership is per thread (setns(2)), so a short-lived thread opens /run/netns/<ns>,
    calls setns(fd, CLONE_NEWNET) through ctypes, creates the socket and exits; the socket stays in
    `ns` for its whole life (bind, connect and routing use that namespace's interfaces), while the
    caller's threads stay where they were. family/type/proto as socket.socket (default AF_INET,
    SOCK_DGRAM). Raises NetnsError if the namespace does not exist, OSError if setns fails (root
    needed)."""
    import ctypes
    import os
    import socket
    import threading

    _guard(ns)
    path = f"/run/netns/{ns}"
    if not os.path.exists(path):
        raise NetnsError(f"no network namespace {ns!r} ({path} missing)")
    out: dict = {}

    def worker() -> None:
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
            try:
                if libc.setns(fd, CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns({path}, CLONE_NEWNET): {os.strerror(err)}")
            finally:
                os.close(fd)
            out["sock"] = socket.socket(family, type, proto)
        except BaseException as e:  # handed to the caller's thread
            out["error"] = e

    t = threading.Thread(target=worker, name=f"socket_in:{ns}", daemon=True)
    t.start()
    t.join()
    if "error" in out:
        raise out["error"]
    return out["sock"]
