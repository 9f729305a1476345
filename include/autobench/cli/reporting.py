"""Reporting: the weekly `digest`."""

from __future__ import annotations

import argparse

from autobench.cli.common import EXIT_OK, emit, home_of, now_of


def add_digest(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("digest", parents=[common],
                       help="the weekly digest (digests/<week>.md, TECHNICAL_LOG.md, escalation briefs)")
    p.add_argument("--send", action="store_true", help="deliver it with its plots through the notifier")
    from autobench.reporting import notifiers

    p.add_argument("--notifier", choices=notifiers.names(), default="slack",
                   help="where --send delivers it (default slack: AUTOBENCH_SLACK_TOKEN, AUTOBENCH_SLACK_CHANNEL, "
                        "AUTOBENCH_SLACK_API_URL; record: AUTOBENCH_RECORD_PATH)")
    p.set_defaults(handler=cmd_digest)


def cmd_digest(args: argparse.Namespace) -> int:
    from autobench.reporting.digest import cycle
    from autobench.store import StateStore

    result = cycle(StateStore(home_of(args)), now_of(args), send=args.send, notifier=args.notifier)
    data = {"markdown": result["markdown"], "blocks": result["blocks"], "digest": result["digest"],
            "briefs": result["briefs"], "sent": result["sent"]}
    emit(args, data, lambda: result["markdown"] + "".join(f"\n[ESCALATION] {b}" for b in result["briefs"])
          + (f"\n[SENT] {result['sent'].get('channel')} {result['sent'].get('ts')}" if result["sent"] else ""))
    return EXIT_OK


COMMANDS = {"digest": add_digest}
