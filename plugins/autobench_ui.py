"""The autobench page in the Airflow UI: a FastAPI app mounted at ``/autobench`` plus a nav entry.

Airflow mounts a plugin's FastAPI app without any of the core API's authentication, so every
route here depends on ``requires_access_view(AccessView.PLUGINS)`` from
``airflow.api_fastapi.core_api.security``: the caller must carry a valid Airflow JWT (the
``_token`` cookie the UI's login sets, or ``Authorization: Bearer …``) and be allowed to view
plugins; anyone else gets 401 (no or expired token) or 403 (invalid token, or not allowed).

Routes (under ``/autobench``):

- ``/``                  the HTML page (:func:`autobench.reporting.web.page`)
- ``/plots/{name}.png``  a plot drawn on demand into a temporary folder (404: nothing to plot)
- ``/api/state``         the page's data as JSON

The state folder is ``$AUTOBENCH_HOME`` (else ``./autobench_home``), read on each request and
never written.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from airflow.api_fastapi.auth.managers.models.resource_details import AccessView
from airflow.api_fastapi.core_api.security import requires_access_view
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import HTMLResponse, JSONResponse, Response


def _home() -> Path:
    from autobench.paths import resolve_home

    return resolve_home()


app = FastAPI(
    title="autobench",
    description="The autobench state folder: gap matrix, queue, decisions, plots (read-only).",
    dependencies=[Depends(requires_access_view(AccessView.PLUGINS))],
    docs_url=None,
    redoc_url=None,
    openapi_url=None,
)


@app.get("/", response_class=HTMLResponse)
def autobench_page() -> HTMLResponse:
    from autobench.reporting import web

    return HTMLResponse(web.page(_home()), headers={"Cache-Control": "no-store"})


@app.get("/plots/{name}.png")
def autobench_plot(name: str) -> Response:
    from autobench.reporting import web

    if name not in web.PLOTS:
        raise HTTPException(status_code=404, detail=f"no plot {name!r} (known: {', '.join(web.PLOTS)})")
    with tempfile.TemporaryDirectory(prefix="autobench-plot-") as folder:
        path = web.render_plot(_home(), name, Path(folder))
        if path is None:
            raise HTTPException(status_code=404, detail=f"nothing to plot for {name!r} yet")
        data = path.read_bytes()
    return Response(content=data, media_type="image/png", headers={"Cache-Control": "no-store"})


@app.get("/api/state")
def autobench_state() -> JSONResponse:
    from autobench.reporting import web

    return JSONResponse(web.state(_home()), headers={"Cache-Control": "no-store"})


class AutobenchUIPlugin(AirflowPlugin):
    """Mounts the app and adds "autobench" to the UI's navigation (shown in an iframe)."""

    name = "autobench"
    fastapi_apps = [{"app": app, "url_prefix": "/autobench", "name": "autobench"}]
    external_views = [
        {
            "name": "autobench",
            # relative: the UI's page has <base href> set to Airflow's base path, so this is
            # /autobench/ on a plain install and /<path>/autobench/ behind a proxy's subpath
            "href": "autobench/",
            "destination": "nav",
            "category": "browse",
            "url_route": "autobench",
        }
    ]
