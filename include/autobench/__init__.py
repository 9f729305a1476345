"""autobench: keeps an ML solution at #1 on its leaderboards, autonomously.

One package per phase of the loop: :mod:`autobench.monitor` (where we stand, daily),
:mod:`autobench.research` (papers become hypotheses, weekly), :mod:`autobench.experiments`
(hypotheses become decisions) and :mod:`autobench.reporting` (digest, alerts, the page), over a
small core in this folder (state store, schemas, clock, paths, HTTP, escaping, the registry of
swappable parts) and the command line (:mod:`autobench.cli`). ``docs/architecture.md`` is the
module map. The package never imports Airflow (the DAGs in ``dags/`` wire it together), and heavy
libraries are imported inside the functions that need them, so DAG parsing and the CLI start fast.
"""

__version__ = "0.1.0"
