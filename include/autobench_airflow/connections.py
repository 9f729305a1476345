"""Secrets and endpoints from Airflow connections, for the DAG files' tasks.

Each helper answers None when its connection is absent, so a deployment without it falls back
to the environment (or to nothing) instead of failing the task.
"""

from __future__ import annotations

from typing import Any

SUBMISSION_CONNECTION_ID = "autobench_submission"
SEMANTIC_SCHOLAR_CONNECTION_ID = "semantic_scholar"


def _get(connection_id: str):
    from airflow.sdk import Connection

    try:
        return Connection.get(connection_id)
    except Exception:  # noqa: BLE001 - Airflow raises a connection-not-found error of its own kind
        return None


def password(connection_id: str) -> str | None:
    """The connection's password (a token or an API key), or None without the connection (or
    with an empty one). Surrounding whitespace, a pasted newline, is not part of a key."""
    conn = _get(connection_id)
    return (conn.password or "").strip() or None if conn is not None else None


def submission_token() -> str | None:
    """The leaderboard submission hook's token (``autobench_submission``); else the runner reads
    ``AUTOBENCH_SUBMISSION_TOKEN``."""
    return password(SUBMISSION_CONNECTION_ID)


def semantic_scholar_key() -> str | None:
    """Semantic Scholar's API key (``semantic_scholar``); else ``AUTOBENCH_S2_API_KEY`` or none."""
    return password(SEMANTIC_SCHOLAR_CONNECTION_ID)


def llm_endpoint(connection_id: str, model: str | None) -> dict[str, Any]:
    """An OpenAI-compatible endpoint from a connection: its host (a url, or a host name served
    over https), password (the key) and ``extra.model`` unless the config names the model."""
    conn = _get(connection_id)
    if conn is None:
        from autobench.errors import AutobenchError

        raise AutobenchError("research_config.yaml enables llm_extractor but there is no Airflow connection "
                             f"{connection_id!r}")
    host = conn.host or ""
    base = host if host.startswith("http") else f"https://{host}"
    return {"base_url": base.rstrip("/"), "api_key": (conn.password or "").strip() or None,
            "model": model or (conn.extra_dejson or {}).get("model", "gpt-4o-mini")}
