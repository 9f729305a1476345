"""The Airflow side of autobench: the few helpers that must import Airflow (connections,
callbacks). `autobench` itself never imports Airflow, so pods and the command line run without
it; DAG files import from here."""
