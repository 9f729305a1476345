"""Experiment backends: where the sweep's runs happen, as swappable parts.

The contract is :class:`~autobench.experiments.backends.base.ExperimentBackend` (group, submit,
run, collect, and the executor the DAG maps over); one module per implementation:

- ``local`` (:mod:`.local`): ``autobench run`` as a subprocess, in a mapped task on the worker
  (and on the command line);
- ``kubernetes`` (:mod:`.kubernetes`): a pod per seed or batch, started by the DAG's
  ``KubernetesPodOperator`` from the backend's payloads.

A new backend is one module and one line in :data:`REGISTRY` (or a ``REGISTRY.register`` call);
the registry schema's ``experiments.backend`` and the DAG's ``backend`` Param take their allowed
values from it. Implementations are imported on demand: ``import autobench.experiments.backends``
loads neither the Kubernetes client nor pydantic, and nothing here ever imports Airflow.
"""

from __future__ import annotations

from typing import Any

from autobench.registry import Registry

REGISTRY = Registry("experiment backend", {
    "local": "autobench.experiments.backends.local:LocalBackend",
    "kubernetes": "autobench.experiments.backends.kubernetes:KubernetesBackend",
})

__all__ = ["REGISTRY", "dag_choices", "get", "names"]


def names() -> tuple[str, ...]:
    """Every registered backend's name (the schema's and the DAG Param's allowed values)."""
    return REGISTRY.names()


def get(name: str, settings: Any = None, **options: Any) -> Any:
    """The backend called ``name`` (an :class:`~.base.ExperimentBackend`), configured by ``settings``
    (an ``ExperimentsSettings``; None: the defaults); ``options`` go to its constructor (local:
    ``timeout``, ``stream``, ``env``)."""
    return REGISTRY.get(name).from_settings(settings, **options)


def dag_choices(configured: str) -> tuple[tuple[str, ...], bool]:
    """What the experiment_sweep DAG wires, from the registry's backend when it is parsed: the
    backends its ``backend`` Param offers, and whether it wires pods. Runs in a task are always
    wired (an idle mapped task costs nothing); the pod operators only when ``configured`` runs
    pods (each turn would otherwise pay a task for none), and then every backend is offered."""
    pods = REGISTRY.get(configured).executor == "pod"
    return tuple(n for n in names() if pods or REGISTRY.get(n).executor == "task"), pods
