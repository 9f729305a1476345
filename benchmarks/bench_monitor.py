"""`autobench monitor` over 50 leaderboards served from loopback (monitor issue target: < 5 s).

Builds a state folder from the `recall` example whose registry names 50 html_table
leaderboards (100 rows each) on a local ThreadingHTTPServer, then times three cycles:
cold (every page fetched and parsed), warm (every page answers 304 Not Modified: no parse) and
one where every page changed. Reports wall time and fetch concurrency.

    .venv/bin/python benchmarks/bench_monitor.py [--boards 50] [--rows 100]
"""

from __future__ import annotations

import argparse
import functools
import os
import platform
import tempfile
import threading
import time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from autobench.clock import parse_now
from autobench.home import init
from autobench.monitor.cycle import cycle
from autobench.schemas import REGISTRY
from autobench.store import StateStore


class Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def page(board: int, rows: int, bump: float) -> str:
    body = "".join(f"<tr><td>{i}</td><td>System {board}-{i}</td><td>{0.95 - i * 0.001 + bump:.4f}</td></tr>"
                   for i in range(1, rows + 1))
    return (f"<html><body><table><thead><tr><th>Rank</th><th>System</th><th>Accuracy</th></tr></thead>"
            f"<tbody>{body}<tr><td></td><td>OurSystem</td><td>0.9000</td></tr></tbody></table></body></html>")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--boards", type=int, default=50)
    ap.add_argument("--rows", type=int, default=100)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    site = tmp / "site"
    site.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"

    def publish(bump: float, stamp: int) -> None:
        for b in range(args.boards):
            path = site / f"board{b}.html"
            path.write_text(page(b, args.rows, bump))
            os.utime(path, (stamp, stamp))

    publish(0.0, 1_700_000_000)
    home = tmp / "home"
    init(home, "recall")
    store = StateStore(home)
    with store.edit(REGISTRY) as doc:
        first = doc["target_leaderboards"][0]
        boards = []
        for b in range(args.boards):
            boards.append({"name": f"Board{b}", "url": f"{base}/board{b}.html", "scrape_method": "html_table",
                           "primary_metric": "accuracy"})
        doc["target_leaderboards"] = [first, *boards]
        doc["target_leaderboards"].pop(0)
        doc["our_solution"]["metric_map"] = {}
        doc["our_solution"]["current_scores"] = {}
        doc["our_solution"]["published_scores"] = {}
        doc["competitors"] = []
    timings = []
    for label, day, bump in (("cold: every page new", 5, None), ("warm: every page unchanged (304)", 6, None),
                             ("every page changed", 7, 0.001)):
        if bump is not None:
            publish(bump, 1_700_100_000)
        now = parse_now(f"2026-01-{day:02d}T06:00:00Z")
        t0 = time.perf_counter()
        result = cycle(store, now, f"bench__{day}")
        timings.append((label, time.perf_counter() - t0, len(result["alerts"]), len(result["refused"])))
    server.shutdown()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print(f"command: .venv/bin/python benchmarks/bench_monitor.py --boards {args.boards} --rows {args.rows}\n")
    print("| cycle | wall | alert lines | refused |\n| --- | --- | --- | --- |")
    for label, seconds, alerts, refused in timings:
        print(f"| {label} | {seconds:.2f} s | {alerts} | {refused} |")
    print(f"\ntarget < 5 s for {args.boards} leaderboards: {'met' if max(t[1] for t in timings) < 5 else 'NOT met'}")


if __name__ == "__main__":
    main()
