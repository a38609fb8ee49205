"""Turn ``collection.yaml`` into Prefect deployments, and tell when what is deployed drifted.

``deploy`` makes the server match the file: the work pool and its priority queues,
one deployment per subreddit (an upsert: Prefect replaces the schedules and
drops the old schedule's future runs), and removes deployments this file once
made (tagged ``collection.yaml``) whose subreddit left it. ``drift`` compares
without changing anything.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from prefect.client.orchestration import get_client
from prefect.client.schemas.actions import DeploymentScheduleCreate, WorkPoolCreate
from prefect.client.schemas.objects import ConcurrencyLimitStrategy, ConcurrencyOptions
from prefect.client.schemas.filters import DeploymentFilter, DeploymentFilterTags, FlowFilter, FlowFilterId
from prefect.client.schemas.schedules import CronSchedule, IntervalSchedule
from prefect.exceptions import ObjectNotFound
from prefect.utilities.callables import parameter_schema
from prefect.workers.utilities import get_default_base_job_template_for_infrastructure_type

from redditlake.collection import MANAGED_TAG, PRIORITY_QUEUES, CollectionFile, deployment_specs
from redditlake.errors import RedditLakeError

ROOT = Path(__file__).resolve().parents[1]  # the project: where process workers run the entrypoint


def _schedule(spec: dict[str, Any]) -> DeploymentScheduleCreate:
    s = spec["schedule"]
    if "interval" in s:
        return DeploymentScheduleCreate(schedule=IntervalSchedule(interval=timedelta(seconds=s["interval"])))
    return DeploymentScheduleCreate(schedule=CronSchedule(cron=s["cron"], timezone="UTC"))


async def ensure_pool(client, config: CollectionFile) -> None:
    """The pool (created with its type's default job template) and one queue per priority."""
    pool = config.work_pool
    try:
        existing = await client.read_work_pool(pool.name)
    except ObjectNotFound:
        template = await get_default_base_job_template_for_infrastructure_type(pool.type)
        if template is None:
            raise RedditLakeError(f"work pool type {pool.type!r} needs its worker package installed (prefect-aws for ecs)")
        await client.create_work_pool(WorkPoolCreate(name=pool.name, type=pool.type, base_job_template=template))
    else:
        if existing.type != pool.type:
            raise RedditLakeError(
                f"work pool {pool.name!r} exists with type {existing.type!r}, collection.yaml says {pool.type!r}; "
                "name another pool in work_pool.name or delete that one"
            )
    for queue, priority in PRIORITY_QUEUES.items():
        try:
            q = await client.read_work_queue_by_name(queue, work_pool_name=pool.name)
        except ObjectNotFound:
            await client.create_work_queue(name=queue, work_pool_name=pool.name, priority=priority)
        else:
            if q.priority != priority:
                await client.update_work_queue(q.id, priority=priority)


async def deploy(config: CollectionFile, root: Path = ROOT) -> list[str]:
    """Apply the file; lines saying what was done."""
    specs = deployment_specs(config)
    done = []
    async with get_client() as client:
        await ensure_pool(client, config)
        for spec in specs:
            flow_id = await client.create_flow_from_name(spec["flow_name"])
            await client.create_deployment(
                flow_id=flow_id,
                name=spec["name"],
                description=spec["description"],
                work_pool_name=spec["work_pool"],
                work_queue_name=spec["work_queue"],
                schedules=[_schedule(spec)],
                parameters=spec["parameters"],
                parameter_openapi_schema=_schema(spec["entrypoint"]),
                enforce_parameter_schema=True,
                tags=spec["tags"],
                job_variables=spec["job_variables"],
                path=code_path(config, root),
                entrypoint=spec["entrypoint"],
                pull_steps=[],
                # One run of a deployment at a time; runs that come due meanwhile (a backlog after
                # an outage, a cron tick during a long run) are cancelled, not stacked: collection is
                # incremental, the running one catches up.
                concurrency_limit=1,
                concurrency_options=ConcurrencyOptions(collision_strategy=ConcurrencyLimitStrategy.CANCEL_NEW),
            )
            done.append(f"deployed {_full(spec)} ({_describe(spec)})")
        wanted = {_full(s) for s in specs}
        for full, d in (await _managed(client)).items():
            if full not in wanted:
                await client.delete_deployment(d.id)
                done.append(f"removed {full} (no longer in the file)")
    return done


def code_path(config: CollectionFile, root: Path = ROOT) -> str:
    """Where workers find the flow code: this checkout for a process pool, the image's
    working directory (/app, see Dockerfile) for ECS, unless work_pool.code_path says."""
    if config.work_pool.code_path:
        return config.work_pool.code_path
    return str(root) if config.work_pool.type == "process" else "/app"


def _full(spec: dict[str, Any]) -> str:
    return f"{spec['flow_name']}/{spec['name']}"


def _schema(entrypoint: str) -> dict[str, Any]:
    from prefect.flows import load_flow_from_entrypoint

    flow = load_flow_from_entrypoint(str(ROOT / entrypoint))
    return parameter_schema(flow).model_dump(exclude_unset=True)


async def _managed(client) -> dict[str, Any]:
    """The deployments a collection.yaml made, by full name (flow/deployment)."""
    deployments = await client.read_deployments(
        deployment_filter=DeploymentFilter(tags=DeploymentFilterTags(all_=[MANAGED_TAG])),
    )
    flows = {f.id: f.name for f in await client.read_flows(flow_filter=FlowFilter(id=FlowFilterId(any_=list({d.flow_id for d in deployments}))))} if deployments else {}
    return {f"{flows[d.flow_id]}/{d.name}": d for d in deployments}


def _describe(spec: dict[str, Any]) -> str:
    s = spec["schedule"]
    every = f"every {s['interval']}s" if "interval" in s else f"cron {s['cron']}"
    return f"{every}, queue {spec['work_queue']}, pool {spec['work_pool']}"


def _deployed_schedule(d) -> dict[str, Any] | None:
    if len(d.schedules) != 1:
        return None
    sched = d.schedules[0].schedule
    if isinstance(sched, IntervalSchedule):
        return {"interval": int(sched.interval.total_seconds())}
    if isinstance(sched, CronSchedule):
        return {"cron": sched.cron}
    return None


async def drift(config: CollectionFile) -> list[str]:
    """Differences between the file and the server, one line each; empty when in sync."""
    specs = {_full(s): s for s in deployment_specs(config)}
    out: list[str] = []
    async with get_client() as client:
        try:
            pool = await client.read_work_pool(config.work_pool.name)
        except ObjectNotFound:
            out.append(f"work pool {config.work_pool.name} does not exist")
        else:
            if pool.type != config.work_pool.type:
                out.append(f"work pool {pool.name}: type {pool.type}, file says {config.work_pool.type}")
            for queue, priority in PRIORITY_QUEUES.items():
                try:
                    q = await client.read_work_queue_by_name(queue, work_pool_name=pool.name)
                except ObjectNotFound:
                    out.append(f"work queue {pool.name}/{queue} does not exist")
                    continue
                if q.priority != priority:
                    out.append(f"work queue {pool.name}/{queue}: priority {q.priority}, expected {priority}")
        deployed = await _managed(client)
        for name, spec in specs.items():
            d = deployed.get(name)
            if d is None:
                try:
                    d = await client.read_deployment_by_name(name)
                except ObjectNotFound:
                    out.append(f"{name}: not deployed")
                    continue
            wanted = {
                "parameters": spec["parameters"],
                "schedule": spec["schedule"],
                "work_pool": spec["work_pool"],
                "work_queue": spec["work_queue"],
                "tags": sorted(spec["tags"]),
                "job_variables": spec["job_variables"],
                "entrypoint": spec["entrypoint"],
            }
            actual = {
                "parameters": d.parameters,
                "schedule": _deployed_schedule(d),
                "work_pool": d.work_pool_name,
                "work_queue": d.work_queue_name,
                "tags": sorted(d.tags),
                "job_variables": d.job_variables or {},
                "entrypoint": d.entrypoint,
            }
            for key in wanted:
                if wanted[key] != actual[key]:
                    out.append(f"{name}: {key} is {actual[key]!r}, file says {wanted[key]!r}")
        for name in sorted(set(deployed) - set(specs)):
            out.append(f"{name}: deployed but no longer in the file")
    return out
