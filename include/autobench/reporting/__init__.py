"""The reporting phase: what autobench tells people, and where.

The weekly digest, the technical log and the escalation briefs (:mod:`.digest`), alerts
(:mod:`.alerts`), plots (:mod:`.plots`) and the read-only web UI (:mod:`.web`); everything
sent goes through a notifier (:mod:`.notifiers`: Slack, a JSONL record). Entry:
:func:`autobench.reporting.digest.cycle` (the DAG's task bodies: :mod:`.tasks`).
"""
