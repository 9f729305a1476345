"""`autobench ingest` on 2,000 papers from a loopback arXiv (research issue target: < 30 s).

A fake arXiv API on 127.0.0.1 pages through 2,000 generated papers (Atom, 100 per page, newest
first); one in ten names MemoryBench with a technique from the catalog and a gain. The request
delay is 0. Times a first ingest (fetch, screen, extract, log, hypotheses) and a second one of
the same week, which must fetch nothing twice.

    .venv/bin/python benchmarks/bench_ingest.py [--papers 2000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

from autobench.clock import parse_now
from autobench.home import init
from autobench.research.ingest import cycle
from autobench.schemas import RESEARCH_CONFIG
from autobench.store import StateStore

TECHNIQUES = ["rotary position embeddings", "a higher learning rate", "longer training", "weight decay",
              "more attention heads", "dropout", "a deeper model", "a larger batch size"]
TOPICS = ["image segmentation", "speech recognition", "graph neural networks", "protein folding",
          "reinforcement learning for robotics", "tabular data", "time series forecasting", "machine translation"]


def paper(i: int) -> str:
    when = (dt.datetime(2026, 1, 4, tzinfo=dt.UTC) - dt.timedelta(minutes=7 * i)).strftime("%Y-%m-%dT%H:%M:%SZ")
    if i % 10 == 0:
        t = TECHNIQUES[(i // 10) % len(TECHNIQUES)]
        title = f"Associative memory study {i}"
        summary = f"We apply {t} to key-value recall and improve MemoryBench accuracy by {1 + i % 4}.{i % 10} points."
    else:
        title = f"A study of {TOPICS[i % len(TOPICS)]} number {i}"
        summary = f"We propose a method for {TOPICS[i % len(TOPICS)]} and evaluate it on standard benchmarks."
    return (f"<entry><id>http://arxiv.org/abs/2601.{i:05d}v1</id><updated>{when}</updated><published>{when}</published>"
            f"<title>{title}</title><summary>{summary}</summary><author><name>Author {i}</name></author>"
            f'<link href="http://arxiv.org/abs/2601.{i:05d}v1" rel="alternate" type="text/html"/>'
            f'<category term="cs.LG"/></entry>')


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--papers", type=int, default=2000)
    args = ap.parse_args()
    entries = [paper(i) for i in range(args.papers)]
    requests: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            q = parse_qs(urlparse(self.path).query)
            start, size = int(q["start"][0]), int(q["max_results"][0])
            requests.append(self.path)
            page = entries[start:start + size]
            body = ('<?xml version="1.0"?><feed xmlns="http://www.w3.org/2005/Atom" '
                    'xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/"><title>q</title>'
                    f"<opensearch:totalResults>{len(entries)}</opensearch:totalResults>"
                    + "".join(page) + "</feed>").encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/atom+xml")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    os.environ["AUTOBENCH_ARXIV_URL"] = f"http://127.0.0.1:{server.server_address[1]}/api/query"
    os.environ["AUTOBENCH_ARXIV_DELAY"] = "0"
    home = Path(tempfile.mkdtemp(prefix="bench-ingest-")) / "home"
    init(home, "recall")
    store = StateStore(home)
    with store.edit(RESEARCH_CONFIG) as doc:
        doc["research_sources"]["arxiv_queries"] = ["associative memory"]
        doc["research_sources"]["local_feeds"] = []
        doc["arxiv"]["max_results"] = args.papers
    rows = []
    for label, run_id in (("first ingest", "bench-1"), ("second ingest, same week", "bench-2")):
        before = len(requests)
        t0 = time.perf_counter()
        r = cycle(store, parse_now("2026-01-05T07:00:00Z"), run_id)
        rows.append((label, time.perf_counter() - t0, len(requests) - before, r["papers_fetched"], r["papers_new"],
                     len(r["relevant"]), len(r["hypotheses_added"])))
    server.shutdown()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, "
          f"Python {platform.python_version()}")
    print(f"command: .venv/bin/python benchmarks/bench_ingest.py --papers {args.papers}\n")
    print("| run | wall | requests | papers fetched | new | relevant | hypotheses added |\n"
          "| --- | --- | --- | --- | --- | --- | --- |")
    for label, secs, req, fetched, new, rel, hyp in rows:
        print(f"| {label} | {secs:.2f} s | {req} | {fetched} | {new} | {rel} | {hyp} |")
    print(f"\ntarget < 30 s: {'met' if rows[0][1] < 30 else 'NOT met'}")


if __name__ == "__main__":
    main()
