"""The Prefect side of alerts: ``redditlake.alerts`` events become Prefect events,
related to the flow run that raised them, for automations to act on."""

from __future__ import annotations

from typing import Any

from redditlake import alerts


def prefect_emitter(event: str, subreddit: str, payload: dict[str, Any]) -> None:
    from prefect.events import emit_event

    emit_event(
        event=event,
        resource={"prefect.resource.id": f"redditlake.subreddit.{subreddit}", "prefect.resource.name": f"r/{subreddit}"},
        payload=payload,
    )


def install_prefect_alerts() -> None:
    """Flows call this first: from then on the package's alerts are Prefect events."""
    alerts.install(prefect_emitter)
