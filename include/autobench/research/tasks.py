"""Task bodies the `research_ingest` DAG calls: plain values in, JSON-able data out, a log line per step.

The DAG file only wires these together; everything here also runs without Airflow.
"""

from __future__ import annotations

from typing import Any

from autobench.home import resolve_home


def ingest_llm_settings(home: str | None = None) -> dict[str, Any] | None:
    """The LLM extractor's settings when research_config.yaml enables it, else None."""
    from autobench.schemas import RESEARCH_CONFIG
    from autobench.store import StateStore

    llm = StateStore(resolve_home(home)).load(RESEARCH_CONFIG).llm_extractor
    return {"connection_id": llm.connection_id, "model": llm.model} if llm.enabled else None


def ingest_sources(home: str | None = None) -> list[dict[str, str]]:
    """One entry per paper source research_config.yaml asks for (what the fetch task is mapped over)."""
    from autobench.research import paper_sources
    from autobench.schemas import RESEARCH_CONFIG
    from autobench.store import StateStore

    return [s.as_dict() for s in paper_sources.specs(StateStore(resolve_home(home)).load(RESEARCH_CONFIG))]


def ingest_fetch(source: dict[str, str], now, dag_run_id: str, api_key: str | None = None,
                 home: str | None = None) -> dict[str, Any]:
    from autobench.research.paper_sources import SourceSpec
    from autobench.research.staging import fetch_source
    from autobench.store import StateStore

    out = fetch_source(StateStore(resolve_home(home)), SourceSpec(**source), now, dag_run_id, api_key)
    print(f"{out['source']}: {out['papers']} papers" + (f"; ERROR {out['error']}" if out["error"] else ""))
    return out


def ingest_process(now, dag_run_id: str, llm_connection: dict[str, Any] | None = None,
                   home: str | None = None) -> dict[str, Any]:
    """``llm_connection``: {base_url, api_key, model} from the DAG's connection, when enabled."""
    from autobench.research.ingest import finish_cycle
    from autobench.store import StateStore

    llm = None
    if llm_connection:
        from autobench.research.llm_extractor import LLMExtractor

        llm = LLMExtractor(llm_connection["base_url"], llm_connection.get("api_key"), llm_connection["model"])
    result = finish_cycle(StateStore(resolve_home(home)), now, dag_run_id, llm)
    print(f"{result['papers_fetched']} fetched, {result['papers_new']} new, relevant: {result['relevant']}, "
          f"hypotheses added: {result['hypotheses_added']}")
    for skipped in result["skipped"]:
        print(f"skipped, not relevant: {skipped}")
    for error in result["errors"]:
        print(f"[ERROR] {error['source']}: {error['reason']}")
    for note in result["gap_notes"]:
        print(f"[GAP] {note}")
    return result

