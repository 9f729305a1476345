"""Experiment backends: where ``autobench run`` happens, as swappable parts.

One small base class with one decisive method (:meth:`ExperimentBackend.run`) in
:mod:`autobench.experiments.backends.base`, one module per implementation:

- ``local`` (:mod:`autobench.experiments.backends.local`): ``autobench run`` as a subprocess here;
- ``kubernetes`` (:mod:`autobench.experiments.backends.kubernetes`): a pod per seed or batch, started by the
  DAG's ``KubernetesPodOperator`` from :func:`~autobench.experiments.backends.kubernetes.pod_kwargs`.

Implementations are imported on demand: ``import autobench.experiments.backends`` loads neither the
Kubernetes client nor pydantic, and nothing here ever imports Airflow.
"""

from __future__ import annotations

from typing import Any

from autobench.experiments.backends.base import (
    BackendError,
    ExperimentBackend,
    command_for,
    shell_command_for,
)

BACKENDS: tuple[str, ...] = ("local", "kubernetes")

__all__ = ["BACKENDS", "BackendError", "ExperimentBackend", "command_for", "get", "shell_command_for"]


def get(name: str, settings: Any = None, **options: Any) -> ExperimentBackend:
    """The backend called ``name``.

    ``settings``: an ``ExperimentsSettings`` (its ``kubernetes`` part is used) or a
    ``KubernetesSettings``; the kubernetes backend needs one, local ignores it. ``options`` go
    to the backend's constructor (local: ``timeout``, ``stream``, ``env``).
    """
    if name == "local":
        from autobench.experiments.backends.local import LocalBackend

        return LocalBackend(**options)
    if name == "kubernetes":
        from autobench.experiments.backends.kubernetes import KubernetesBackend

        k8s_settings = getattr(settings, "kubernetes", settings)
        if k8s_settings is None:
            from autobench.schemas import KubernetesSettings

            k8s_settings = KubernetesSettings()
        return KubernetesBackend(k8s_settings, **options)
    raise ValueError(f"unknown experiment backend {name!r} (known: {', '.join(BACKENDS)})")
