"""The research phase: new papers become logged techniques and queued hypotheses, every week.

Fetches each paper source of ``research_config.yaml`` (:mod:`.paper_sources`, staged by
:mod:`.staging`), screens papers for relevance (:mod:`.relevance`), extracts techniques against
the catalog (:mod:`.techniques`, optionally :mod:`.llm_extractor`), plans hypotheses
(:mod:`.planning`) and writes ``research_log.md`` (:mod:`.research_log`). Entry:
:func:`autobench.research.ingest.cycle` (the DAG's task bodies: :mod:`.tasks`).
"""
