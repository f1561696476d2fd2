"""Process tracking: every lab process runs in its own process group, recorded by pid and pgid,
and is stopped by those (docs/architecture.md "Lab safety": never by name)."""
from __future__ import annotations

import os
import signal
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .wait import WaitTimeout, wait_for


@dataclass
class Tracked:
    """A process started by the lab. `log` receives its stdout and stderr."""
    name: str
    host: str
    pid: int
    pgid: int
    log: str
    popen: subprocess.Popen | None = None
    start_time: int | None = None  # /proc/<pid>/stat starttime (clock ticks since boot)
    # Runs before the process group is signalled (e.g. a UML guest's clean power-off); bounded.
    before_stop: Callable[[], None] | None = field(default=None, repr=False)

    def to_json(self) -> dict:
        return {"name": self.name, "host": self.host, "pid": self.pid, "pgid": self.pgid, "log": self.log,
                "start_time": self.start_time}

    def alive(self) -> bool:
        if self.popen is not None:
            return self.popen.poll() is None
        return pid_alive(self.pid)

    def log_text(self) -> str:
        try:
            return Path(self.log).read_text(errors="replace")
        except OSError:
            return ""


def pid_alive(pid: int) -> bool:
    """True if `pid` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def start_time(pid: int) -> int | None:
    """The start time of process `pid` (proc(5) /proc/<pid>/stat field 22, clock ticks since boot),
    or None if there is no such process. A pid with another start time is another process (the
    kernel reused the number)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return int(f.read().rsplit(")", 1)[1].split()[19])
    except (OSError, IndexError, ValueError):
        return None


def same_process_alive(pid: int, started: int | None) -> bool:
    """True if `pid` is alive and, when `started` is known, still the process that started then."""
    if pid <= 0 or not pid_alive(pid):
        return False
    return started is None or start_time(pid) == started


def pgid_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a group whose members are all zombies still answers; look for a live member
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
                if int(fields[2]) == pgid and fields[0] != "Z":
                    return True
            except (OSError, IndexError, ValueError):
                continue
    return False


def start(name: str, host: str, argv: list[str], log: Path, env: dict | None = None,
          stdin_pipe: bool = False, pass_fds: tuple[int, ...] = ()) -> Tracked:
    """Start `argv` (already wrapped for its namespace) in a new session / process group.
    `stdin_pipe`: its stdin is a pipe (`popen.stdin`), else /dev/null; `pass_fds`: descriptors
    it inherits (e.g. one end of a socketpair)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "ab") as lf:
        p = subprocess.Popen(argv, stdout=lf, stderr=subprocess.STDOUT,
                             stdin=subprocess.PIPE if stdin_pipe else subprocess.DEVNULL,
                             start_new_session=True, env=env, pass_fds=pass_fds)
    return Tracked(name, host, p.pid, p.pid, str(log), p, start_time(p.pid))


def stop_group(pgid: int, grace: float = 3.0) -> None:
    """SIGTERM the process group, wait up to `grace` s for it to go, then SIGKILL."""
    if pgid <= 1:
        return
    try:
        os.killpg(pgid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        wait_for(lambda: not pgid_alive(pgid), grace, f"process group {pgid} to exit")
    except WaitTimeout:
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def stop_pids(pids: list[int], grace: float = 3.0) -> None:
    """SIGTERM then SIGKILL a list of pids (used for processes found in a stale namespace)."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    try:
        wait_for(lambda: not any(pid_alive(p) for p in pids), grace, f"pids {pids} to exit")
    except WaitTimeout:
        pass
    for pid in pids:
        if pid_alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass


def stop(t: Tracked, grace: float = 3.0) -> None:
    """`t.before_stop` (if any, its errors ignored), then stop_group; reaps the Popen."""
    if t.before_stop is not None and t.alive():
        try:
            t.before_stop()
        except Exception:  # noqa: BLE001 - the group is signalled whatever happened
            pass
    stop_group(t.pgid, grace)
    if t.popen is not None:
        try:
            t.popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            pass
