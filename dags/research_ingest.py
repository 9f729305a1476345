"""
### research_ingest: papers are a feed, not homework

**When:** every Monday at 07:00, and whenever the monitor reports that the gap to #1 widened
(`autobench://gap-widened`).

**Tasks:** `fetch`, mapped over the sources of `research_config.yaml` (arXiv queries, competitor
blogs, local feeds, citations of our core method; a source that fails is reported and the others
go on; in the one-slot `arxiv` pool, so arXiv's pacing holds across workers) → `process`
(relevance screen, technique extraction, `research_log.md`, hypotheses into the queue) →
`announce` (`autobench://queue` when it added any).

**Connections:** `semantic_scholar` (password: the API key; or `AUTOBENCH_S2_API_KEY`), and the
optional LLM extractor's connection named in `llm_extractor.connection_id`. Keys never go in
the YAML files.

A re-run writes no log entry or hypothesis twice. The rules live in `autobench.research`
(`ingest.py` is the cycle); the same cycle on the command line is `autobench ingest`.
"""

from __future__ import annotations

from airflow.sdk import Asset, TriggerRule, dag, task
from airflow.timetables.assets import AssetOrTimeSchedule
from airflow.timetables.trigger import CronTriggerTimetable

from autobench import orchestration
from autobench_airflow.alerts import on_failure

GAP_WIDENED = Asset(orchestration.ASSET_GAP_WIDENED)
QUEUE = Asset(orchestration.ASSET_QUEUE)


@dag(
    schedule=AssetOrTimeSchedule(timetable=CronTriggerTimetable("0 7 * * 1", timezone="UTC"), assets=[GAP_WIDENED]),
    start_date=orchestration.START_DATE,
    catchup=False,
    max_active_runs=1,
    default_args=orchestration.default_args(on_failure_callback=on_failure),
    doc_md=__doc__,
    tags=["autobench", "research"],
)
def research_ingest():
    @task
    def sources() -> list[dict]:
        """One entry per paper source in research_config.yaml."""
        from autobench.research.tasks import ingest_sources

        return ingest_sources()

    @task(pool=orchestration.ARXIV_POOL, multiple_outputs=False, map_index_template="{{ source['name'] }}")
    def fetch(source: dict, **context) -> dict:
        """New papers from one source, staged for processing (a failing source is reported, not fatal)."""
        from autobench import clock
        from autobench.research.tasks import ingest_fetch

        api_key = None
        if source["kind"] == "citations":  # Semantic Scholar's key, from its connection
            from autobench_airflow.connections import semantic_scholar_key

            api_key = semantic_scholar_key()
        return ingest_fetch(source, clock.from_context(context), dag_run_id=context["run_id"], api_key=api_key)

    @task(multiple_outputs=False, trigger_rule=TriggerRule.ALL_DONE)
    def process(**context) -> dict:
        """Screen, extract, log to research_log.md, and queue hypotheses."""
        from autobench import clock
        from autobench.research.tasks import ingest_llm_settings, ingest_process

        llm = ingest_llm_settings()
        connection = None
        if llm is not None:  # optional: an OpenAI-compatible endpoint from an Airflow connection
            from autobench_airflow.connections import llm_endpoint

            connection = llm_endpoint(llm["connection_id"], llm["model"])
        return ingest_process(clock.from_context(context), dag_run_id=context["run_id"], llm_connection=connection)

    @task(outlets=[QUEUE], multiple_outputs=False)
    def announce(result: dict, **context) -> list:
        """Raise autobench://queue when hypotheses were added."""
        from airflow.sdk.exceptions import AirflowSkipException

        if not result["hypotheses_added"]:
            raise AirflowSkipException("no new hypotheses")
        context["outlet_events"][QUEUE].extra = {"hypotheses": result["hypotheses_added"]}
        return result["hypotheses_added"]

    fetched = fetch.expand(source=sources())
    result = process()
    fetched >> result
    announce(result)


research_ingest()
