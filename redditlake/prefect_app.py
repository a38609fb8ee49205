"""The app a CLI run's own Prefect server serves: Prefect's API with its UI.

Prefect's ephemeral mode (what a run needs: only the services that record runs, no
scheduler or other loops on a 2-core machine) also drops the UI, so the "View at" links
Prefect prints during the run would lead nowhere. This keeps the ephemeral API and puts
the UI back. A uvicorn factory: ``uvicorn --factory redditlake.prefect_app:create_app``.
"""

from __future__ import annotations


def create_app():
    from prefect.server.api import server
    from starlette.routing import Mount

    app = server.create_app(ephemeral=True, final=True)
    routes = app.router.routes
    for i, route in enumerate(routes):
        if isinstance(route, Mount) and route.name == "ui":
            routes[i] = Mount(route.path, app=server.create_ui_app(ephemeral=False), name="ui")
            return app
    raise RuntimeError("Prefect's server app has no UI mount to serve the UI from (a Prefect upgrade?)")
