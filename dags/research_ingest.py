"""
### research_ingest: papers are a feed, not homework

Every Monday at 07:00, and whenever the monitor reports that the gap to #1 widened
(`autobench://gap-widened`), this DAG reads what is new since the last ingest:

1. **fetch** — one mapped task per source in `research_config.yaml` (each arXiv query, each
   competitor blog, each local feed, citations of our core method through Semantic Scholar).
   A source that fails is reported and the others go on. Only papers newer than that source's
   watermark in `state/ingest.json` are fetched; a watermark moves only when its source was
   read, and never past the run's time, so a failed source catches up next time.
2. **process** — dedupe by versionless arXiv id across weeks, the relevance screen (BM25 against
   our domain and leaderboards; a paper naming one of our leaderboards is always relevant),
   technique extraction with the technique catalog (shipped in the package, extendable with a
   `techniques.yaml` in the state folder), a `research_log.md` entry per relevant paper, and
   hypotheses for techniques that apply, are not in production and were never tried, with the
   gap-size strategy (gap < 1%: fine-grained lr / weight decay; 1–5%: component ablations; > 5%:
   noted for the digest). New hypotheses raise `autobench://queue`. An optional LLM extractor
   (an OpenAI-compatible endpoint from the connection named in `llm_extractor.connection_id`)
   adds what the catalog's patterns miss; it is off unless `llm_extractor.enabled` is true.

The Semantic Scholar API key comes from the `semantic_scholar` connection (its password) or
`AUTOBENCH_S2_API_KEY`, never from the YAML. Everything is keyed on the DAG run's id: a re-run
writes no log entry or hypothesis twice. The task bodies are `autobench.research.tasks`; the same
cycle from the command line: `autobench ingest` (`autobench.research.ingest.cycle`).
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

    @task(multiple_outputs=False, map_index_template="{{ source['name'] }}")
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
