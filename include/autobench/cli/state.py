"""The state folder: `init`, `validate` and the hypothesis `queue`."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from autobench.cli.common import EXIT_ERROR, EXIT_OK, CommandError, emit, home_of, now_of


def add_init(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("init", parents=[common], help="create a state folder from an example shipped in the package")
    p.add_argument("--example", default="recall", help="example name (default: recall)")
    p.add_argument("--list", action="store_true", help="list the examples and exit")
    p.set_defaults(handler=cmd_init)


def cmd_init(args: argparse.Namespace) -> int:
    from autobench import home

    if args.list:
        names = home.examples()
        emit(args, {"examples": names}, "\n".join(names))
        return EXIT_OK
    target = home_of(args)
    created = home.init(target, args.example)
    emit(args, {"home": str(target), "example": args.example, "created": created},
          f"created {target} from the {args.example!r} example ({len(created)} files)")
    return EXIT_OK


def add_validate(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("validate", parents=[common],
                       help="check every state file against its schema, and the folders against the queue")
    p.set_defaults(handler=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    from autobench.home import validate

    report = validate(home_of(args))

    def text() -> str:
        lines = [f"{name}: {state}" for name, state in report.files.items()]
        lines += [f"warning: {w}" for w in report.warnings]
        lines.append(f"{report.home}: " + ("valid" if report.ok else f"{len(report.errors)} problem(s)"))
        return "\n".join(lines)

    emit(args, report.as_dict(), text)
    if not report.ok:
        for line in report.errors:
            print(line, file=sys.stderr)
        return EXIT_ERROR
    return EXIT_OK


def add_queue(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    q = sub.add_parser("queue", parents=[common], help="the hypothesis queue")
    qsub = q.add_subparsers(dest="queue_command", metavar="ACTION", required=True)
    for add in (add_queue_list, add_queue_add, add_queue_rank):
        add(qsub, common)


def add_queue_list(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("list", parents=[common], help="open hypotheses ranked, and the closed ones")
    p.set_defaults(handler=cmd_queue_list)


def cmd_queue_list(args: argparse.Namespace) -> int:
    from autobench import hypothesis_queue as hq
    from autobench.schemas import QUEUE
    from autobench.store import StateStore

    queue = StateStore(home_of(args)).load(QUEUE)
    emit(args, hq.listing(queue), lambda: hq.format_table(queue))
    return EXIT_OK


def add_queue_add(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("add", parents=[common], help="validate, number, score and queue hypotheses from a YAML file")
    p.add_argument("file", metavar="FILE",
                   help="YAML file with one hypothesis, `hypotheses: [...]` or a list; - for stdin")
    p.set_defaults(handler=cmd_queue_add)


def _read_input(path: str) -> tuple[str, Any]:
    """(display name, plain data) of a YAML file or stdin, loaded safely."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    from autobench.store import _yaml_error

    name = "<stdin>" if path == "-" else path
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()
    except OSError as exc:
        raise CommandError(f"{name}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{name}: not UTF-8 text") from None
    try:
        return name, YAML(typ="safe", pure=True).load(text)
    except YAMLError as exc:
        raise _yaml_error(name, exc) from None


def cmd_queue_add(args: argparse.Namespace) -> int:
    from autobench import hypothesis_queue as hq
    from autobench.experiments.calibration import factors
    from autobench.schemas import QUEUE
    from autobench.store import StateStore

    name, data = _read_input(args.file)
    store = StateStore(home_of(args))
    added = hq.add(store, name, data, now_of(args), factors=factors(store.home, store.load(QUEUE).hypotheses))
    emit(args, {"added": [h.model_dump(mode="json") for h in added]},
          "\n".join(f"added {h.id} ({h.status}, priority {h.priority_score:g}): {h.title}" for h in added))
    return EXIT_OK


def add_queue_rank(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("rank", parents=[common], help="re-rank: the top 10 waiting hypotheses queued, the rest backlog")
    p.set_defaults(handler=cmd_queue_rank)


def cmd_queue_rank(args: argparse.Namespace) -> int:
    from autobench import hypothesis_queue as hq
    from autobench.schemas import QUEUE
    from autobench.store import StateStore

    store = StateStore(home_of(args))
    changes = hq.rank(store)
    queue = store.load(QUEUE)
    data = {"changes": [{"id": i, "from": a, "to": b} for i, a, b in changes], **hq.listing(queue)}
    emit(args, data, lambda: "\n".join([f"{i}: {a} -> {b}" for i, a, b in changes] + [hq.format_table(queue)]))
    return EXIT_OK


COMMANDS = {"init": add_init, "validate": add_validate, "queue": add_queue}
