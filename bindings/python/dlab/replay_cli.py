"""`./lab replay CAPTURE [options]`: the arguments and the command (docs/replay.md). Imports the
codecs only when run, so `./lab help` works before a build."""
from __future__ import annotations

import argparse
import json
import sys


def add_arguments(s: argparse.ArgumentParser) -> None:
    s.add_argument("capture", help="pcap or pcapng file")
    s.add_argument("--list", action="store_true", help="only list the conversations found (no lab)")
    s.add_argument("--tunnel", type=int, help="the control connection to replay (number from --list)")
    s.add_argument("--session", type=int, help="the call of that tunnel to replay (number from --list)")
    s.add_argument("--dut", default="lnsd", choices=["lnsd", "lac-emu", "xl2tpd"],
                   help="implementation under test: lnsd (the LNS, default), lac-emu or xl2tpd (the LAC: the capture's LNS side is "
                        "played; xl2tpd in the UML guest, incoming calls only)")
    s.add_argument("--secret", help="L2TP tunnel secret: Challenge / Challenge Response and hidden AVPs (RFC 2661 §5.1.1, §4.3)")
    s.add_argument("--ppp-secret", help="CHAP secret of the PPP client (RFC 1994)")
    s.add_argument("--radius", default="freeradius", choices=["freeradius", "capture"],
                   help="lnsd's RADIUS server: the lab's FreeRADIUS with the capture's users (default), or a "
                        "scripted server answering with the capture's replies")
    s.add_argument("--radius-secret", default="lns-secret",
                   help="--radius capture: the secret the replies are re-signed with (a captured Tunnel-Password "
                        "is decrypted with it too)")
    s.add_argument("--trigger", metavar="ADDRESS",
                   help="dial-out capture: the destination the trigger packet goes to (default: from the "
                        "captured dial-out User-Name)")
    s.add_argument("--pace", default="asap", choices=["asap", "capture"], help="send as soon as answered, or with the captured gaps")
    s.add_argument("--wait", type=float, help="least seconds to await each expected answer (default from the capture)")
    s.add_argument("--rules", help="YAML/JSON mapping 'PROTOCOL:Field' -> reason (null: compare it) over the default rules")
    s.add_argument("--l2tp-port", type=int, action="append", default=[], help="another UDP port carrying L2TP")
    s.add_argument("--radius-port", type=int, action="append", default=[], help="another UDP port carrying RADIUS")
    s.add_argument("--json", action="store_true", help="print the report (or the list) as JSON")
    s.set_defaults(func=run)


def run(a) -> int:
    """0: every expected answer compatible; 1: differences; 2: bad input (nothing left in the lab)."""
    from . import proto as P
    from . import replay, replay_run as R
    try:
        conv = replay.load(a.capture, a.l2tp_port, a.radius_port, secret=a.secret)
    except (P.CaptureError, OSError) as e:
        print(f"lab replay: {e}", file=sys.stderr)
        return R.EXIT_BAD_INPUT
    if a.list:
        print(json.dumps(replay.to_json(conv), indent=1) if a.json else conv.describe())
        return 0 if conv.tunnels or conv.radius else R.EXIT_BAD_INPUT
    try:
        rules = R.load_rules(a.rules)
        report = R.replay_in_lab(conv, tunnel=a.tunnel, session=a.session, secret=a.secret, ppp_secret=a.ppp_secret,
                                 radius=a.radius, pace=a.pace, wait=a.wait, rules=rules, dut=a.dut,
                                 radius_secret=a.radius_secret, trigger=a.trigger)
    except (R.ReplayInputError, ValueError, KeyError) as e:
        skipped = getattr(e, "skipped", [])
        if a.json:
            print(json.dumps({"capture": a.capture, "exit_status": R.EXIT_BAD_INPUT, "errors": [str(e)],
                              "skipped": [list(x) for x in skipped]}, indent=1))
        else:
            print(f"lab replay: {e}", file=sys.stderr)
            for what, why in skipped:
                print(f"  skipped {what}: {why}", file=sys.stderr)
        return R.EXIT_BAD_INPUT
    print(json.dumps(report.to_json(), indent=1) if a.json else report.text(colour=sys.stdout.isatty()))
    return report.exit_status
