"""`redditlake alerts setup`: a webhook block and the automations that call it.

Three alerting automations, each posting one JSON object with ``alert``, ``subreddit`` and
``reason`` (templated by Prefect, ``tojson`` so quotes in a message cannot break it):

- a top-level run of a redditlake flow ends Failed, Crashed or TimedOut;
- any of the pipeline's own events (``redditlake.alerts.EVENTS``);
- a scheduled run went Late and has not started ``late_minutes`` later (queue backlog).

and a fourth that marks a run Crashed when its heartbeats stop for ``zombie_seconds`` (a
worker killed mid-run). Only runs of the deployments ``redditlake deploy`` made are watched:
those runs beat every ``work_pool.heartbeat_seconds`` (30; set through their job variables),
while any other run beats at Prefect's default 180 s and would look dead at 90 s. The
first automation then reports the crash. Rerunning replaces them (matched by name), so the
setup is idempotent.
"""

from __future__ import annotations

from datetime import timedelta
from uuid import UUID

from prefect.automations import Automation
from prefect.blocks.webhook import Webhook
from prefect.client.orchestration import get_client
from prefect.client.schemas.objects import StateType
from prefect.events.actions import CallWebhook, ChangeFlowRunState
from prefect.events.schemas.automations import EventTrigger, Posture
from pydantic import SecretStr

from redditlake import alerts
from redditlake.collection import MANAGED_TAG

WEBHOOK_BLOCK = "redditlake-alerts"
PREFIX = "redditlake: "
ZOMBIE_SECONDS = 90  # three missed heartbeats at the deployments' 30 s (work_pool.heartbeat_seconds)
FLOWS = ["collect-scheduled", "collect", "refresh"]  # subflows fail with their parent: one alert, not two

# A run is named r/NAME only once it starts; before that (late, crashed while pending) its name
# is Prefect's random one, so the subreddit comes from the parameters when there is one.
SUBREDDIT = (
    '{% if flow_run.parameters.subreddit %}"r/{{ flow_run.parameters.subreddit }}"'
    "{% else %}{{ flow_run.name | tojson }}{% endif %}"
)
RUN_PAYLOAD = (
    '{"alert": "run {{ flow_run.state.name }}", "subreddit": ' + SUBREDDIT + ', '
    '"reason": {{ flow_run.state.message | tojson }}, "flow": {{ flow.name | tojson }}, '
    '"flow_run_id": "{{ flow_run.id }}"}'
)
EVENT_PAYLOAD = (
    '{"alert": {{ event.event | tojson }}, "subreddit": {{ event.payload.subreddit | tojson }}, '
    '"reason": {{ event.payload.reason | tojson }}, "event_id": "{{ event.id }}"}'
)
LATE_PAYLOAD = (
    '{"alert": "run late", "subreddit": ' + SUBREDDIT + ', '
    '"reason": "scheduled for {{ flow_run.expected_start_time }} and not started: are workers running on its pool?", '
    '"flow_run_id": "{{ flow_run.id }}"}'
)


def automations(block_id: UUID, late_minutes: float, zombie_seconds: float = ZOMBIE_SECONDS) -> list[Automation]:
    def call(payload: str) -> list[CallWebhook]:
        return [CallWebhook(block_document_id=block_id, payload=payload)]

    return [
        Automation(
            name=PREFIX + "run failed",
            description="A redditlake flow run ended Failed, Crashed or TimedOut.",
            trigger=EventTrigger(
                expect={"prefect.flow-run.Failed", "prefect.flow-run.Crashed", "prefect.flow-run.TimedOut"},
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related={"prefect.resource.role": "flow", "prefect.resource.name": FLOWS},
                posture=Posture.Reactive, threshold=1, within=timedelta(0),
            ),
            actions=call(RUN_PAYLOAD),
        ),
        Automation(
            name=PREFIX + "pipeline alert",
            description="429s, breaker opened, rate limit approaching, error rate, time limit, quality.",
            trigger=EventTrigger(
                expect=set(alerts.EVENTS),
                match={"prefect.resource.id": "redditlake.subreddit.*"},
                posture=Posture.Reactive, threshold=1, within=timedelta(0),
            ),
            actions=call(EVENT_PAYLOAD),
        ),
        Automation(
            name=PREFIX + "run late",
            description=f"A scheduled run went Late and had not started {late_minutes:g} min later.",
            trigger=EventTrigger(
                after={"prefect.flow-run.Late"},
                expect={"prefect.flow-run.Pending", "prefect.flow-run.Running", "prefect.flow-run.Cancelled"},
                match={"prefect.resource.id": "prefect.flow-run.*"},
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive, threshold=1, within=timedelta(minutes=late_minutes),
            ),
            actions=call(LATE_PAYLOAD),
        ),
        Automation(
            name=PREFIX + "crash silent runs",
            description=f"A deployed run sent no heartbeat for {zombie_seconds:g}s: its worker died; mark it Crashed.",
            trigger=EventTrigger(
                after={"prefect.flow-run.heartbeat"},
                expect={"prefect.flow-run.heartbeat", "prefect.flow-run.Completed", "prefect.flow-run.Failed",
                        "prefect.flow-run.Cancelled", "prefect.flow-run.Crashed"},
                match={"prefect.resource.id": "prefect.flow-run.*"},
                match_related={"prefect.resource.id": f"prefect.tag.{MANAGED_TAG}"},
                for_each={"prefect.resource.id"},
                posture=Posture.Proactive, threshold=1, within=timedelta(seconds=zombie_seconds),
            ),
            actions=[ChangeFlowRunState(state=StateType.CRASHED,
                                        message=f"no heartbeat for {zombie_seconds:g}s: its worker died mid-run")],
        ),
    ]


async def setup_alerts(webhook_url: str, late_minutes: float = 15, zombie_seconds: float = ZOMBIE_SECONDS) -> list[str]:
    """Save the webhook block and (re)create the automations; lines saying what was done.
    The URL is a secret (it often carries a token): it is stored as one and never printed."""
    block_id = await Webhook(method="POST", url=SecretStr(webhook_url)).asave(WEBHOOK_BLOCK, overwrite=True)
    wanted = automations(block_id, late_minutes, zombie_seconds)
    async with get_client() as client:
        for existing in await client.read_automations():
            if existing.name.startswith(PREFIX):
                await client.delete_automation(existing.id)
    lines = [f"saved webhook block {WEBHOOK_BLOCK!r}"]
    for a in wanted:
        await a.acreate()
        lines.append(f"automation {a.name!r}")
    return lines
