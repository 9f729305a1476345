"""Leaderboards: `scrape` one page, one `monitor` cycle, the `gap` matrix."""

from __future__ import annotations

import argparse

from autobench.cli.common import EXIT_ERROR, EXIT_OK, emit, home_of, now_of


def add_scrape(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    from autobench.monitor import scrape

    p = sub.add_parser("scrape", parents=[common], help="scrape one leaderboard page and print its rows")
    p.add_argument("url", metavar="URL", help="http(s)://, file:// or a path")
    p.add_argument("--method", required=True, choices=scrape.names(), help="the scrape method (its registry's names)")
    p.add_argument("--metric", required=True, help="the score's column (html_table: header text; api: dotted path)")
    p.add_argument("--system-column", help="the system's column (default: the first mostly-text column)")
    p.add_argument("--table", type=int, help="html_table: which table, counted from 1")
    p.add_argument("--selector", help="html_table: a CSS selector for the table")
    p.add_argument("--records", help="api: dotted path to the records")
    p.add_argument("--pattern", help="rss: regex with named groups system and score")
    p.set_defaults(handler=cmd_scrape)


def cmd_scrape(args: argparse.Namespace) -> int:
    from autobench.monitor.scrape import ScrapeOptions, scrape

    options = ScrapeOptions(metric=args.metric, system_column=args.system_column, table=args.table,
                            selector=args.selector, records=args.records, pattern=args.pattern)
    home = home_of(args) if getattr(args, "home", None) else None
    got = scrape(args.url, args.method, options, home=home)
    rows = [{"rank": r.rank, "system": r.system, "score": r.score} for r in got.rows or []]
    emit(args, rows, lambda: "\n".join(f"{'' if r['rank'] is None else r['rank']:>4}  {r['score']:>10g}  {r['system']}"
                                        for r in rows) or "(no rows)")
    return EXIT_OK


def add_monitor(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("monitor", parents=[common],
                       help="one monitor cycle: scrape every leaderboard, delta report, gap matrix, triggers")
    p.add_argument("--run-id", help="key of this cycle (default: manual__<now>)")
    p.set_defaults(handler=cmd_monitor)


def cmd_monitor(args: argparse.Namespace) -> int:
    from autobench.clock import iso
    from autobench.monitor.cycle import cycle
    from autobench.store import StateStore

    now = now_of(args)
    result = cycle(StateStore(home_of(args)), now, args.run_id or f"manual__{iso(now)}")

    def text() -> str:
        from autobench.monitor.standings import markdown

        lines = result["alerts"] + result["status"]
        lines += [f"[REFUSED] {r['leaderboard']}: {r['reason']}" for r in result["refused"]]
        lines += [f"[TRIGGER] {t}" for t in result["triggers"]]
        return "\n".join(lines + ["", markdown(result["gap_matrix"])])

    emit(args, result, text)
    return EXIT_ERROR if result["refused"] else EXIT_OK


def add_gap(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("gap", parents=[common], help="the gap matrix from the latest snapshots")
    p.set_defaults(handler=cmd_gap)


def cmd_gap(args: argparse.Namespace) -> int:
    from autobench.monitor.snapshots import boards_at
    from autobench.monitor.standings import gap_matrix, markdown
    from autobench.schemas import REGISTRY
    from autobench.store import StateStore

    store = StateStore(home_of(args))
    registry = store.load(REGISTRY)
    pairs = boards_at(store.home, registry, dag_run_id="")  # no run: the latest snapshots
    matrix = gap_matrix([after for _, after in pairs], registry.our_solution.name, registry.our_solution.current_scores)
    emit(args, matrix, lambda: markdown(matrix) if matrix["rows"] else "no snapshots yet: run `autobench monitor`")
    return EXIT_OK


COMMANDS = {"scrape": add_scrape, "monitor": add_monitor, "gap": add_gap}
