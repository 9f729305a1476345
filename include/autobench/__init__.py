"""autobench: keeps an ML solution at #1 on its leaderboards, autonomously.

The package holds all the logic; the Airflow DAGs in ``dags/`` only wire it together. It never
imports Airflow, so the command line and experiment pods run without it. Heavy libraries
(torch, scipy, matplotlib) are imported inside the functions that need them, never at module
top level, so DAG parsing and the CLI start fast.
"""

__version__ = "0.1.0"
