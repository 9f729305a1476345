"""Research: search arXiv (`papers`), `extract` techniques from a text, one `ingest` cycle."""

from __future__ import annotations

import argparse
import json
import sys

from autobench.cli.common import EXIT_OK, CommandError, emit, home_of, now_of


def add_papers(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("papers", parents=[common], help="search arXiv (AUTOBENCH_ARXIV_URL overrides the API address)")
    p.add_argument("--query", required=True, help="an arXiv search query")
    p.add_argument("--max", type=int, default=20, dest="max_results", help="at most this many papers (default 20)")
    p.set_defaults(handler=cmd_papers)


def cmd_papers(args: argparse.Namespace) -> int:
    from autobench.research.paper_sources import ArxivSource

    if args.max_results < 1:
        raise CommandError("papers: --max must be at least 1")
    papers = [p.as_dict() for p in ArxivSource(args.query, max_results=args.max_results,
                                                 page_size=min(100, args.max_results)).fetch(None)]
    emit(args, papers, lambda: "\n".join(f"{p['id']}v{p['version'] or 1}  {p['published'][:10]}  {p['title']}"
                                          for p in papers) or "(no papers)")
    return EXIT_OK


def add_extract(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("extract", parents=[common], help="techniques and reported gains in a paper's text")
    p.add_argument("file", metavar="FILE", help="a text file with the title and abstract; - for stdin")
    p.set_defaults(handler=cmd_extract)


def cmd_extract(args: argparse.Namespace) -> int:
    import os

    from autobench.research.technique_catalog import load_catalog
    from autobench.research.techniques import extract
    from autobench.schemas import REGISTRY
    from autobench.store import StateStore

    name = "<stdin>" if args.file == "-" else args.file
    try:
        text = sys.stdin.read() if args.file == "-" else open(args.file, encoding="utf-8").read()
    except OSError as exc:
        raise CommandError(f"{name}: cannot read: {exc.strerror}") from None
    except UnicodeDecodeError:
        raise CommandError(f"{name}: not UTF-8 text") from None
    home = home_of(args)
    boards: list[tuple[str, list[str]]] = []
    if os.path.exists(home / REGISTRY):
        registry = StateStore(home).load(REGISTRY)
        boards = [(lb.name, [lb.name, *lb.aliases]) for lb in registry.target_leaderboards]
    result = extract(text, load_catalog(home if home.is_dir() else None), boards)

    def show() -> str:
        lines = [f"{t['name']} ({t['category']}, effort {t['effort']}, impact {t['impact'] or 'unknown'}) "
                 f"patch {json.dumps(t['config_patch'])}" for t in result["techniques"]]
        lines += [f"gain {g['gain']:+.3f} ({g['unit']}) on {g['leaderboard'] or '?'}: {g['text']}"
                  for g in result["reported_gains"]]
        return "\n".join(lines) or "(nothing found)"

    emit(args, result, show)
    return EXIT_OK


def add_ingest(sub: argparse._SubParsersAction, common: argparse.ArgumentParser) -> None:
    p = sub.add_parser("ingest", parents=[common], help="one research ingest cycle: papers -> techniques -> hypotheses")
    p.add_argument("--run-id", help="key of this cycle (default: manual__<now>)")
    p.set_defaults(handler=cmd_ingest)


def cmd_ingest(args: argparse.Namespace) -> int:
    from autobench.clock import iso
    from autobench.research.ingest import cycle
    from autobench.store import StateStore

    now = now_of(args)
    result = cycle(StateStore(home_of(args)), now, args.run_id or f"manual__{iso(now)}")

    def show() -> str:
        r = result
        lines = [f"{r['papers_fetched']} papers fetched, {r['papers_new']} new, {len(r['relevant'])} relevant, "
                 f"{r['techniques']} techniques, hypotheses added: {', '.join(r['hypotheses_added']) or 'none'}"]
        lines += [f"[ERROR] {e['source']}: {e['reason']}" for e in r["errors"]]
        lines += [f"[GAP] {note}" for note in r["gap_notes"]]
        return "\n".join(lines)

    emit(args, result, show)
    return EXIT_OK


COMMANDS = {"papers": add_papers, "extract": add_extract, "ingest": add_ingest}
