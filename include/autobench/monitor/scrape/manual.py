"""``manual``: scores kept by hand in a YAML file, for leaderboards no scraper can read (a PDF, a
talk, an e-mail). Two shapes:

.. code-block:: yaml

    entries:                 # rank optional; score a number or "86.1%"
      - {system: GPT-4, score: 86.1, rank: 1}
      - {system: Ours, score: "85.0%"}

    # or a mapping of system to score
    GPT-4: 86.1
    Ours: 85.0

``options.metric`` is not used (the file holds one metric). Entries with a null or "N/A" score
are left out; anything else that is not a score is an error, since a person wrote it.
"""

from __future__ import annotations

from typing import Any

from autobench.monitor.scrape.base import (
    Row,
    ScrapeError,
    ScrapeOptions,
    Scraper,
    clean_name,
    parse_rank,
    parse_score,
)


class ManualScraper(Scraper):
    method = "manual"

    def parse(self, body: bytes, options: ScrapeOptions, content_type: str | None = None) -> list[Row]:
        import yaml

        try:
            doc = yaml.safe_load(body)
        except yaml.YAMLError as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise ScrapeError(f"not valid YAML: {first}") from exc
        if isinstance(doc, dict) and "entries" in doc:
            entries = doc["entries"]
            if not isinstance(entries, list):
                raise ScrapeError("entries: must be a list of {system, score, rank?}")
            rows = [r for i, e in enumerate(entries) if (r := _entry(i, e)) is not None]
        elif isinstance(doc, list):
            rows = [r for i, e in enumerate(doc) if (r := _entry(i, e)) is not None]
        elif isinstance(doc, dict):
            rows = []
            for system, score in doc.items():
                value = _score(score, f"{system}")
                if value is not None and clean_name(str(system)):
                    rows.append(Row(rank=None, system=clean_name(str(system)), score=value))
        else:
            raise ScrapeError("expected {entries: [{system, score, rank?}]} or a mapping {system: score}")
        if not rows:
            raise ScrapeError("no entry has a score")
        return rows


def _score(value: Any, where: str) -> float | None:
    try:
        return parse_score(value)
    except ValueError as exc:
        raise ScrapeError(f"{where}: {exc}") from exc


def _entry(i: int, e: Any) -> Row | None:
    where = f"entries[{i}]"
    if not isinstance(e, dict):
        raise ScrapeError(f"{where}: must be a mapping {{system, score, rank?}}")
    system = clean_name(str(e.get("system") or ""))
    if not system:
        raise ScrapeError(f"{where}: system is missing")
    if "score" not in e:
        raise ScrapeError(f"{where} ({system}): score is missing")
    score = _score(e["score"], f"{where} ({system}): score")
    if score is None:
        return None
    rank = e.get("rank")
    if rank is not None and (isinstance(rank, bool) or parse_rank(rank) is None):
        raise ScrapeError(f"{where} ({system}): rank must be a whole number, not {rank!r}")
    return Row(rank=parse_rank(rank), system=system, score=score)
