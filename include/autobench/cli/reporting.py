"""Reporting: the weekly `digest`."""

from __future__ import annotations

import argparse

from autobench.cli import EXIT_OK, _emit, _home, _now


def add_digest(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("digest", parents=[common],
                       help="the weekly digest (digests/<week>.md, TECHNICAL_LOG.md, escalation briefs)")
    p.add_argument("--send", action="store_true",
                   help="post it to Slack: AUTOBENCH_SLACK_TOKEN, AUTOBENCH_SLACK_CHANNEL, "
                        "AUTOBENCH_SLACK_API_URL (default Slack's own API)")
    p.set_defaults(handler=cmd_digest)


def cmd_digest(args: argparse.Namespace) -> int:
    from autobench.reporting.digest import cycle
    from autobench.store import StateStore

    result = cycle(StateStore(_home(args)), _now(args), send=args.send)
    data = {"markdown": result["markdown"], "blocks": result["blocks"], "digest": result["digest"],
            "briefs": result["briefs"], "sent": result["sent"]}
    _emit(args, data, lambda: result["markdown"] + "".join(f"\n[ESCALATION] {b}" for b in result["briefs"])
          + (f"\n[SENT] {result['sent'].get('channel')} {result['sent'].get('ts')}" if result["sent"] else ""))
    return EXIT_OK


COMMANDS = {"digest": add_digest}
