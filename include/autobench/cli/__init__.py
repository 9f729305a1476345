"""The ``autobench`` command: every step of the loop, runnable without Airflow.

Common options on every command: ``--json`` (one JSON document on stdout), ``--home`` (the state
folder; default ``$AUTOBENCH_HOME``, else ``./autobench_home``) and ``--now`` (ISO 8601 UTC; the
time every decision uses). Bad input exits 1 with one line on stderr naming the file and field.

One module per phase holds its commands, each parser definition beside its handler, and lists
them in ``COMMANDS`` (name -> the function that adds its parser): state.py (init, validate,
queue), monitor.py (scrape, monitor, gap), research.py (papers, extract, ingest), experiments.py
(run, sweep, decide, compare, variance, power, simulate), reporting.py (digest). A new command is
one function pair and one ``COMMANDS`` entry in its phase's module. What they share (exit codes,
``CommandError``, printing, reading --home and --now) is in common.py, which imports none of them.

Subcommands import what they need when they run, so ``autobench --help`` and
``autobench validate`` start fast and the experiment path never pulls in the control plane.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence

from autobench import __version__
from autobench.cli import experiments, monitor, reporting, research, state
from autobench.cli.common import EXIT_ERROR, EXIT_OK, EXIT_USAGE, CommandError, emit, home_of, now_of
from autobench.errors import AutobenchError

__all__ = ["EXIT_ERROR", "EXIT_OK", "EXIT_USAGE", "CommandError", "build_parser", "emit", "home_of", "main", "now_of"]

# The order `autobench --help` lists the commands in; a command not named here comes last.
HELP_ORDER = ("init", "validate", "run", "compare", "decide", "simulate", "variance", "power", "scrape",
              "monitor", "gap", "papers", "extract", "ingest", "sweep", "digest", "queue")


def _common() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--json", action="store_true", default=argparse.SUPPRESS,
                        help="print one JSON document on stdout")
    common.add_argument("--home", metavar="DIR", default=argparse.SUPPRESS,
                        help="the state folder (default: $AUTOBENCH_HOME, else ./autobench_home)")
    common.add_argument("--now", metavar="ISO8601", default=argparse.SUPPRESS,
                        help="the time decisions use, in UTC, e.g. 2026-01-05T06:00:00Z (default: the current time)")
    return common


def build_parser() -> argparse.ArgumentParser:
    common = _common()
    parser = argparse.ArgumentParser(
        prog="autobench", parents=[common],
        description="Keep an ML solution at #1 on its leaderboards: the steps of the loop, one command each.",
        epilog="State lives in AUTOBENCH_HOME (see `autobench init`). Docs: README.md, docs/.",
    )
    parser.add_argument("--version", action="version", version=f"autobench {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    commands: dict[str, Callable[[argparse._SubParsersAction, argparse.ArgumentParser], None]] = {}
    for phase in (state, monitor, research, experiments, reporting):
        commands.update(phase.COMMANDS)
    for name in sorted(commands, key=lambda n: HELP_ORDER.index(n) if n in HELP_ORDER else len(HELP_ORDER)):
        commands[name](sub, common)
    return parser


# ----------------------------------------------------------------------------- entry point


def _known_errors() -> tuple[type[BaseException], ...]:
    errors: list[type[BaseException]] = [AutobenchError]
    try:
        from filelock import Timeout

        errors.append(Timeout)
    except ImportError:  # the lean experiment image has no filelock
        pass
    return tuple(errors)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if getattr(args, "now", None):
            now_of(args)  # refuse a bad --now before doing anything
        return args.handler(args)
    except KeyboardInterrupt:
        print("autobench: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `autobench queue list | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        if isinstance(exc, _known_errors()):
            print(str(exc).splitlines()[0] if str(exc) else type(exc).__name__, file=sys.stderr)
            return EXIT_ERROR
        if isinstance(exc, (NotADirectoryError, IsADirectoryError, FileNotFoundError, PermissionError)):
            # e.g. --home naming a file: one line naming the path, not a traceback
            print(f"autobench: {exc.filename or ''}: {exc.strerror or exc}".replace(" : ", " "), file=sys.stderr)
            return EXIT_ERROR
        raise


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
