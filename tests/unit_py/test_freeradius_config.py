"""The lab's FreeRADIUS configuration (dlab.freeradius), without starting it: no directory outside
the server's folder is changed, the daemon reaches its files through a bind mount in its private
mount namespace, and every Access-Accept / -Reject is signed with a Message-Authenticator."""
from __future__ import annotations

import os
import stat

from dlab import freeradius
from dlab.topology import RadiusServer


def server() -> RadiusServer:
    return RadiusServer(name="home", host="radius", address="192.0.2.10", secret="s", clients=["192.0.2.1"],
                        users=[])


def test_no_directory_above_the_servers_folder_is_changed(tmp_path):
    closed = tmp_path / "closed"        # like a checkout under a 0700 home: freerad cannot search it
    closed.mkdir(mode=0o700)
    closed.chmod(0o700)
    before = {p: p.stat().st_mode for p in (tmp_path, closed)}
    confdir = freeradius.write_config(server(), closed / "radius")
    after = {p: p.stat().st_mode for p in (tmp_path, closed)}
    assert after == before, "a directory above the run folder was changed"
    assert stat.S_IMODE(closed.stat().st_mode) == 0o700
    conf = (confdir / "radiusd.conf").read_text()
    assert f"confdir = {freeradius.MOUNT}/raddb" in conf and str(closed) not in conf, \
        "FreeRADIUS must see its files at the bind mount, not through the closed directory"
    argv = freeradius.argv(confdir)
    assert argv[:2] == ["sh", "-c"] and f"mount --bind \"$1\" {freeradius.MOUNT}" in argv[2], argv
    assert argv[-1] == str(confdir.parent), argv
    assert "exec freeradius" in argv[2], "the daemon must keep the pid the lab tracks"


def test_access_accept_and_reject_carry_message_authenticator(tmp_path):
    conf = (freeradius.write_config(server(), tmp_path / "radius") / "radiusd.conf").read_text()
    post_auth = conf[conf.index("post-auth {"):]
    assert post_auth.count("Message-Authenticator := 0x00") == 2, post_auth


def test_generated_files_are_not_world_readable(tmp_path):
    confdir = freeradius.write_config(server(), tmp_path / "radius")
    for d, _, files in os.walk(confdir):
        for f in files:
            assert not os.stat(os.path.join(d, f)).st_mode & 0o007, f"{f} is readable by others"


def test_lab_profile_is_what_the_tests_read(tmp_path):
    """The default (the tests' profile): detail files and per-auth log lines, a thread pool."""
    confdir = freeradius.write_config(server(), tmp_path / "radius")
    conf = (confdir / "radiusd.conf").read_text()
    authorize = conf[conf.index("authorize {"):conf.index("authenticate {")]
    accounting = conf[conf.index("accounting {"):conf.index("post-auth {")]
    assert "auth_detail" in authorize and "acct_detail" in accounting
    assert "    auth = yes" in conf
    assert "exec freeradius -f -l stdout" in freeradius.argv(confdir)[2]


def test_bench_profile_drops_detail_log_and_threads_but_keeps_the_users(tmp_path):
    srv = server()
    lab_conf = freeradius.write_config(srv, tmp_path / "lab")
    bench = freeradius.PROFILES["bench"]
    confdir = freeradius.write_config(srv, tmp_path / "bench", bench)
    conf = (confdir / "radiusd.conf").read_text()
    authorize = conf[conf.index("authorize {"):conf.index("authenticate {")]
    accounting = conf[conf.index("accounting {"):conf.index("post-auth {")]
    assert "auth_detail" not in authorize and "acct_detail" not in accounting
    assert "files" in authorize and "chap" in authorize and "pap" in authorize, "still authorised by rlm_files"
    assert "    auth = no" in conf
    assert conf[conf.index("post-auth {"):].count("Message-Authenticator := 0x00") == 2
    assert (confdir / "users").read_text() == (lab_conf / "users").read_text()
    assert "exec freeradius -ft -l stdout" in freeradius.argv(confdir, profile=bench)[2]
    assert "exec freeradius -X" in freeradius.argv(confdir, debug=True, profile=bench)[2]
