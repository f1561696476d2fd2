"""lnsd as a process on loopback (no namespaces, no TUN: no virtual routers): a second lnsd with the
same configuration refuses to start and leaves the first one working; configuration errors name
file, line and column. lnsd and lnsctl from $LNSD_BIN_DIR, else $DL_BUILD_DIR/lns/lnsd (the sanitize
tier's build), else build/."""
from __future__ import annotations

import json
import os
import socket
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
BIN = Path(os.environ.get("LNSD_BIN_DIR") or Path(os.environ.get("DL_BUILD_DIR") or REPO / "build") / "lns" / "lnsd")


@pytest.fixture
def lnsd_bin() -> Path:
    if not (BIN / "lnsd").exists():
        pytest.skip(f"{BIN / 'lnsd'} not built")
    return BIN


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(lnsd_bin: Path, cfg: Path, sock: Path) -> subprocess.Popen:
    return subprocess.Popen([str(lnsd_bin / "lnsd"), "--config", str(cfg), "--control", str(sock)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def ready(p: subprocess.Popen) -> None:
    line = p.stdout.readline()
    assert line.strip() == "lnsd ready", f"lnsd did not start: {line!r} {p.stderr.read() if p.poll() is not None else ''}"


def show(lnsd_bin: Path, sock: Path) -> dict:
    cp = subprocess.run([str(lnsd_bin / "lnsctl"), "--socket", str(sock), "--json", "show", "l2tp"],
                        capture_output=True, text=True, timeout=10)
    assert cp.returncode == 0, cp.stderr
    return json.loads(cp.stdout)


def stop(p: subprocess.Popen) -> None:
    if p.poll() is None:
        p.terminate()
        p.wait(timeout=10)


@pytest.mark.parametrize("shared", ["l2tp-address", "control-socket"])
def test_second_lnsd_with_the_same_config_refuses_to_start(tmp_path, lnsd_bin, shared):
    port = free_udp_port()
    cfg = tmp_path / "lnsd.yaml"
    cfg.write_text(f"local-address: 127.0.0.1\nport: {port}\nshutdown-wait: 1s\n")
    sock = tmp_path / "lnsd.sock"
    first = start(lnsd_bin, cfg, sock)
    try:
        ready(first)
        if shared == "l2tp-address":
            second_cfg, second_sock = cfg, tmp_path / "other.sock"
            expected = f"cannot bind the L2TP socket to 127.0.0.1:{port} (in use by another process)"
        else:
            second_cfg = tmp_path / "other.yaml"
            second_cfg.write_text(f"local-address: 127.0.0.1\nport: {free_udp_port()}\n")
            second_sock, expected = sock, f"control socket {sock} is in use by a running process"
        inode = sock.stat().st_ino
        second = start(lnsd_bin, second_cfg, second_sock)
        out, err = second.communicate(timeout=20)
        assert second.returncode == 1, (out, err)
        assert "lnsd ready" not in out
        assert expected in err, err
        assert sock.stat().st_ino == inode, "the first lnsd's control socket was replaced"
        show(lnsd_bin, sock)  # the first lnsd still answers on its socket
        assert first.poll() is None
    finally:
        stop(first)


def test_stale_control_socket_of_a_dead_lnsd_is_replaced(tmp_path, lnsd_bin):
    sock = tmp_path / "lnsd.sock"
    dead = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dead.bind(str(sock))
    dead.close()  # the file stays, nobody accepts on it
    cfg = tmp_path / "lnsd.yaml"
    cfg.write_text(f"local-address: 127.0.0.1\nport: {free_udp_port()}\n")
    p = start(lnsd_bin, cfg, sock)
    try:
        ready(p)
        show(lnsd_bin, sock)
    finally:
        stop(p)


@pytest.mark.parametrize("text, where, what", [
    ("local-address: 127.0.0.1\nport: 1701\nhostname: a\nport: 1702\n", "lnsd.yaml:4:1",
     "port: 'port' is a duplicate key"),
    ("local-address: 127.0.0.1\nreceive-window: 0\n", "lnsd.yaml:2:17", "receive-window: '0' is out of range [1..1024]"),
], ids=["duplicate-key", "out-of-range"])
def test_configuration_error_names_file_line_and_column(tmp_path, lnsd_bin, text, where, what):
    cfg = tmp_path / "lnsd.yaml"
    cfg.write_text(text)
    cp = subprocess.run([str(lnsd_bin / "lnsd"), "--config", str(cfg), "--control", str(tmp_path / "s")],
                        capture_output=True, text=True, timeout=20)
    assert cp.returncode == 2, cp
    assert f"lnsd: configuration error: {tmp_path / where}: {what}" in cp.stderr, cp.stderr


CAP_NET_ADMIN = 12  # capabilities(7)
NO_NET_ADMIN = ["setpriv", "--inh-caps=-net_admin", "--ambient-caps=-net_admin", "--bounding-set=-net_admin", "--"]


def without_net_admin(argv: list[str]) -> list[str]:
    """`argv` run without CAP_NET_ADMIN (setpriv(1)): it can neither create a TUN nor change any route,
    rule or interface of the namespace it runs in. Skips when that cannot be arranged."""
    cp = subprocess.run([*NO_NET_ADMIN, "grep", "^CapEff:", "/proc/self/status"], capture_output=True, text=True)
    if cp.returncode != 0:
        pytest.skip(f"setpriv cannot drop CAP_NET_ADMIN here: {cp.stderr.strip()}")
    if int(cp.stdout.split()[1], 16) & (1 << CAP_NET_ADMIN):
        pytest.skip("CAP_NET_ADMIN is still effective under setpriv")
    return [*NO_NET_ADMIN, *argv]


def ctl(lnsd_bin: Path, sock: Path, *words: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(lnsd_bin / "lnsctl"), "--socket", str(sock), "--json", *words],
                          capture_output=True, text=True, timeout=10)


def test_lnsd_that_cannot_get_its_tun_reports_initialization_failed_and_refuses_dialout_config(tmp_path, lnsd_bin):
    """JunosE "L2TP Dial-Out" Table 71 initializationFailed through its real cause: lnsd without
    CAP_NET_ADMIN gets EPERM from TUNSETIFF for its virtual router's TUN. It stays up (incoming calls,
    control API), shows the chassis initializationFailed with the reason, and every dial-out
    configuration command fails."""
    cfg = tmp_path / "lnsd.yaml"
    cfg.write_text(f"""local-address: 127.0.0.1
port: {free_udp_port()}
shutdown-wait: 1s
virtual-routers:
  - name: default
    tun: dlo-nocap
    nas-ip-address: 127.0.0.1
    radius: {{authentication: [{{address: 127.0.0.1, port: {free_udp_port()}, secret: s}}]}}
ppp-profiles: {{isdn: {{local-address: 198.18.0.1}}}}
dialout:
  profiles: {{isdn: {{authentication: chap}}}}
  targets: [{{virtual-router: default, prefix: 198.51.100.0/24, domain: d.example, profile: isdn}}]
""")
    sock = tmp_path / "lnsd.sock"
    p = subprocess.Popen(without_net_admin([str(lnsd_bin / "lnsd"), "--config", str(cfg), "--control", str(sock)]),
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        ready(p)
        cp = ctl(lnsd_bin, sock, "show", "l2tp", "dial-out", "chassis")
        assert cp.returncode == 0, cp.stderr
        chassis = json.loads(cp.stdout)
        assert chassis["state"] == "initializationFailed", chassis
        assert "TUN dlo-nocap" in chassis["reason"] and "Operation not permitted" in chassis["reason"], chassis
        # The `dialout:` section was refused: no target, and adding one at run time fails.
        cp = ctl(lnsd_bin, sock, "show", "l2tp", "dial-out", "target")
        assert cp.returncode == 0 and json.loads(cp.stdout) == [], cp
        cp = ctl(lnsd_bin, sock, "l2tp", "dial-out", "target", "add", "virtual-router=default",
                 "prefix=198.51.100.0/24", "domain=d.example", "profile=isdn")
        assert cp.returncode != 0, cp
        assert "refused: chassis is initializationFailed" in cp.stdout + cp.stderr, cp
        show(lnsd_bin, sock)  # the LNS itself still answers
        assert p.poll() is None
    finally:
        stop(p)
