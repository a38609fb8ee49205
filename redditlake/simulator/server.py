"""HTTP front of the simulator: auth, rate limit, faults, and the Reddit routes.

One catch-all aiohttp route feeds a small regex dispatcher, because Reddit accepts every path
with or without a trailing slash and with a ``.json`` suffix, which aiohttp's router does not.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import re
import secrets
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import BasicAuth, web

from . import huge, ranking, things
from .config import FaultConfig, SimulatorConfig
from .paging import listing_page
from .content import World
from .faults import ERROR_HTML, HTML_DOWN, REASONS, Fault, FaultInjector
from .ratelimit import FixedWindowLimiter, Verdict
from .stats import Stats
from .responses import error, json_response, listable_subreddit, subreddit_gate
from .sublisting import subreddit_comments_handler
from .trees import DEFAULT_LIMIT, MAX_LIMIT, TreeCutter

Params = dict[str, str]
Handler = Callable[["Simulator", web.Request, Params, re.Match], Awaitable[web.Response] | web.Response]

MAX_INFO_IDS = 100


def _int(params: Params, name: str, default: int | None) -> int | None:
    try:
        return int(params[name])
    except (KeyError, ValueError):
        return default


@dataclass(frozen=True)
class Route:
    methods: frozenset[str]
    pattern: re.Pattern
    family: str
    handler: Handler


class Simulator:
    """Everything one running simulator owns; ``build_app`` wires it into aiohttp."""

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.world = World(config)
        self.stats = Stats()
        self.limiter = FixedWindowLimiter(config.requests_per_window, config.window_seconds)
        self.faults = FaultInjector(config.faults)
        self.cutter = TreeCutter(self.world, self.faults.unexpandable)
        self.tokens: dict[str, str] = {}  # access token -> client id
        self.started = time.monotonic()
        self._token_counter = itertools.count(1)

    def restart_clocks(self) -> None:
        """Align outages and rate-limit windows with the moment the server starts listening."""
        self.started = time.monotonic()
        self.limiter = FixedWindowLimiter(self.config.requests_per_window, self.config.window_seconds)

    # -- request pipeline ---------------------------------------------------------------

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/")
        if path.endswith(".json"):
            path = path[: -len(".json")]
        path = path.rstrip("/") or "/"
        if path.startswith("/_sim/"):
            return await self._control(request, path)
        route, match = self._match(request.method, path)
        family = route.family if route else "other"
        self.stats.started()
        status, client = 500, None
        try:
            response, client = await self._api(request, route, match)
            if response is None:  # connection reset fault: the transport is already gone
                status = 0
                return web.Response(status=500)
            status = response.status
            return response
        finally:
            self.stats.finished(family, status, client)

    def _match(self, method: str, path: str) -> tuple[Route | None, re.Match | None]:
        for route in ROUTES:
            match = route.pattern.match(path)
            if match and method in route.methods:
                return route, match
        return None, None

    async def _api(self, request: web.Request, route: Route | None,
                   match: re.Match | None) -> tuple[web.Response | None, str | None]:
        if route is not None and route.family == "token":
            await asyncio.sleep(self.config.latency_seconds)
            return await _call(route.handler, self, request, {}, match), None

        client = self._client_of(request)
        if client is None:
            response = error(401, "Unauthorized")
            response.headers["WWW-Authenticate"] = 'Bearer realm="reddit", error="invalid_token"'
            return response, None
        verdict = self.limiter.hit(client)
        if not verdict.allowed:
            return self._with_limits(error(429, "Too Many Requests"), verdict), client
        if route is None or route.family != "morechildren":
            return await self._serve(request, route, match, verdict), client
        # Reddit dislikes parallel morechildren calls of one client; record how many overlap.
        self.stats.morechildren_enter(client)
        try:
            return await self._serve(request, route, match, verdict), client
        finally:
            self.stats.morechildren_exit(client)

    async def _serve(self, request: web.Request, route: Route | None, match: re.Match | None,
                     verdict: Verdict) -> web.Response | None:
        """An authorised, budgeted request: service time, faults, then the handler."""
        await asyncio.sleep(self.config.latency_seconds)  # 0 still yields, so arrivals overlap
        decision = self.faults.decide(time.monotonic() - self.started)
        if decision.delay:
            self.stats.fault("slow")
            await asyncio.sleep(decision.delay)
        fault = self.faults.owed(request.path) or decision.fault
        if fault is not None:
            self.stats.fault(fault.kind)
            if fault.kind == "reset":
                if request.transport is not None:
                    request.transport.abort()
                return None
            if fault.kind in ("outage", "error_5xx"):
                return self._with_limits(_error_page(fault), verdict)

        if route is None:
            response: web.Response = error(404, "Not Found")
        else:
            params: Params = dict(request.query)
            if request.method == "POST":
                params.update({k: v for k, v in (await request.post()).items() if isinstance(v, str)})
            response = await _call(route.handler, self, request, params, match)

        if fault is not None and fault.kind == "html_200":
            response = web.Response(text=HTML_DOWN, content_type="text/html")
        elif fault is not None and fault.kind == "truncated_json" and response.body:
            body = bytes(response.body)
            response = web.Response(body=body[: len(body) // 2], content_type="application/json")
        return self._with_limits(response, verdict)

    def _client_of(self, request: web.Request) -> str | None:
        scheme, _, token_value = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return None
        return self.tokens.get(token_value.strip())

    @staticmethod
    def _with_limits(response: web.Response, verdict: Verdict) -> web.Response:
        response.headers.update(verdict.headers())
        return response

    # -- /_sim control plane (no auth, not counted) ------------------------------------

    async def _control(self, request: web.Request, path: str) -> web.Response:
        world = self.world
        action = path[len("/_sim/"):]
        if action == "stats":
            return json_response(self.stats.snapshot())
        if action == "health":
            return json_response({"ok": True, "now": world.now})
        if request.method != "POST" and action in ("reset_stats", "advance", "delete", "access"):
            return error(405, "Method Not Allowed")
        if action == "reset_stats":
            self.stats.reset()
            return json_response({"ok": True})
        if action == "advance":
            try:
                world.advance(float(request.query.get("seconds", "0")))
            except ValueError as exc:
                return error(400, str(exc))
            return json_response({"now": world.now})
        if action == "faults":
            if request.method == "POST":
                try:
                    self.faults.replace(FaultConfig.model_validate_json(await request.read() or b"{}"))
                except ValueError as exc:
                    return error(400, str(exc))
            return json_response(self.faults.config.model_dump(mode="json"))
        if action == "delete":
            try:
                world.delete(request.query.get("id", ""))
            except (KeyError, ValueError) as exc:
                return error(404, f"cannot delete: {exc}")
            return json_response({"ok": True})
        if action == "access":
            # POST /_sim/access?subreddit=python&kind=private (public|private|banned|quarantined)
            try:
                world.set_access(request.query.get("subreddit", ""), request.query.get("kind", ""))
            except KeyError as exc:
                return error(404, f"no such subreddit: {exc}")
            except ValueError as exc:
                return error(400, str(exc))
            return json_response({"ok": True})
        if action == "info_drop":
            # POST a JSON list of fullnames: /api/info leaves them out (a short 200 answer); [] restores.
            if request.method == "POST":
                try:
                    names = json.loads(await request.read() or b"[]")
                    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
                        raise ValueError("expected a JSON list of fullnames")
                except ValueError as exc:
                    return error(400, str(exc))
                world.drop_from_info(names)
            return json_response(sorted(world.info_dropped))
        if action.startswith("truth/"):
            result = truth(world, action[len("truth/"):])
            return json_response(result) if result is not None else error(404, "Not Found")
        return error(404, "Not Found")


async def _call(handler: Handler, sim: Simulator, request: web.Request, params: Params,
                match: re.Match | None) -> web.Response:
    result = handler(sim, request, params, match)
    if asyncio.iscoroutine(result):
        return await result
    return result  # type: ignore[return-value]


def _error_page(fault: Fault) -> web.Response:
    reason = REASONS[fault.status]
    if fault.html:
        return web.Response(text=ERROR_HTML.format(status=fault.status, reason=reason),
                            status=fault.status, content_type="text/html")
    return error(fault.status, reason)


def truth(world: World, subreddit: str) -> dict[str, Any] | None:
    with world.lock:
        if world.subreddit(subreddit) is None:
            return None
        posts = world.post_ids(subreddit)
        return {"posts": posts, "comments": {p: world.comment_ids(p) for p in posts},
                "hidden": {p: world.hidden_comment_ids(p) for p in posts}}


# -- handlers -----------------------------------------------------------------------------


async def token_handler(sim: Simulator, request: web.Request, params: Params, match: re.Match) -> web.Response:
    form = await request.post()
    try:
        auth = BasicAuth.decode(request.headers.get("Authorization", ""))
    except ValueError:
        auth = None
    if auth is None or sim.config.clients.get(auth.login) != auth.password:
        return error(401, "Unauthorized")
    grant = form.get("grant_type")
    if grant not in ("client_credentials", "password"):
        return json_response({"error": "unsupported_grant_type"}, status=400)
    if grant == "password" and not form.get("username"):
        return json_response({"error": "invalid_grant"})
    access_token = f"{next(sim._token_counter)}-{secrets.token_urlsafe(18)}"
    sim.tokens[access_token] = auth.login
    return json_response({"access_token": access_token, "token_type": "bearer", "expires_in": 86400,
                          "scope": "*"})


def listing_handler(sim: Simulator, request: web.Request, params: Params, match: re.Match) -> web.Response:
    name, sort = match.group("sub"), (match.group("sort") or "hot").lower()
    world = sim.world
    with world.lock:
        sub, refusal = listable_subreddit(sim, name)
        if refusal is not None:
            return refusal
        now = world.now
        ordered = ranking.order_posts(world.visible_posts(sub), sort, now, params.get("t"))
        page, after, before = listing_page(ordered[: sim.config.listing_cap], lambda p: p.fullname, params)
        children = [{"kind": "t3", "data": things.post_data(world, p, now)} for p in page]
    return json_response(things.listing(children, after=after, before=before))


def about_handler(sim: Simulator, request: web.Request, params: Params, match: re.Match) -> web.Response:
    with sim.world.lock:
        sub, refusal = subreddit_gate(sim, match.group("sub"))
        if sub is None:
            return error(404, "Not Found")
        if refusal is not None:
            return refusal
        return json_response({"kind": "t5", "data": things.subreddit_data(sim.world, sub)})


def user_handler(sim: Simulator, request: web.Request, params: Params, match: re.Match) -> web.Response:
    account = sim.world.account(match.group("user"))
    if account is None or account.deleted:
        return error(404, "Not Found")
    return json_response({"kind": "t2", "data": things.account_data(sim.world, account)})


def comments_handler(sim: Simulator, request: web.Request, params: Params, match: re.Match) -> web.Response:
    world = sim.world
    sort = params.get("sort", "confidence").lower()
    if sort not in ranking.COMMENT_SORTS:
        sort = "confidence"
    limit = max(1, min(_int(params, "limit", DEFAULT_LIMIT) or DEFAULT_LIMIT, MAX_LIMIT))
    with world.lock:
        post = world.post(match.group("post"))
        if post is None:
            return error(404, "Not Found")
        _, refusal = subreddit_gate(sim, post.subreddit)
        if refusal is not None:
            return refusal
        focus = None
        if match.group("comment"):
            focus = world.comment(match.group("comment"))
            if focus is None or focus.post_id != post.id:
                return error(404, "Not Found")
        children = sim.cutter.comments(post, sort=sort, limit=limit, depth=_int(params, "depth", None),
                                       focus=focus)
        big = sim.config.huge_threads
        if huge.is_huge(big, world, post) and huge.tree_comments(children) > big.tree_comments:
            return huge.refusal(big, morechildren=False)
        body = [
            things.listing([{"kind": "t3", "data": things.post_data(world, post, world.now)}]),
            things.comment_listing(children),
        ]
    return json_response(body)


def morechildren_handler(sim: Simulator, request: web.Request, params: Params, match: re.Match) -> web.Response:
    world = sim.world
    sort = params.get("sort", "confidence").lower()
    if sort not in ranking.COMMENT_SORTS:
        sort = "confidence"
    link_id = params.get("link_id", "")
    ids = [i for i in params.get("children", "").split(",") if i]
    limit_children = params.get("limit_children", "").lower() in ("1", "true", "yes")
    with world.lock:
        post = world.post(link_id.removeprefix("t3_")) if link_id.startswith("t3_") else None
        result: list[dict] = []
        if post is not None:
            _, refusal = subreddit_gate(sim, post.subreddit)
            if refusal is not None:
                return refusal
            big = sim.config.huge_threads
            if huge.is_huge(big, world, post) and len(set(ids)) > big.morechildren_ids:
                return huge.refusal(big, morechildren=True)
            result = sim.cutter.morechildren(post, ids, sort=sort, depth=_int(params, "depth", None),
                                             limit_children=limit_children)
    return json_response({"json": {"errors": [], "data": {"things": result}}})


def info_handler(sim: Simulator, request: web.Request, params: Params, match: re.Match) -> web.Response:
    world = sim.world
    names = [n.strip() for n in params.get("id", "").split(",") if n.strip()]
    if len(names) > MAX_INFO_IDS:
        return error(400, "Bad Request", reason="TOO_MANY_IDS")
    children: list[dict] = []
    with world.lock:
        now = world.now
        for fullname in names:
            if fullname.lower() in world.info_dropped:
                continue
            kind, _, ident = fullname.partition("_")
            # Like Reddit, /api/info silently leaves out things of subreddits the caller cannot read.
            if kind == "t3" and (post := world.post(ident)) is not None:
                if world.readable(post.subreddit):
                    children.append({"kind": "t3", "data": things.post_data(world, post, now)})
            elif kind == "t1" and (comment := world.comment(ident)) is not None:
                post = world.post(comment.post_id)
                assert post is not None
                if world.readable(post.subreddit):
                    children.append({"kind": "t1", "data": things.flat_comment_data(world, comment, post, now)})
            elif kind == "t5" and (sub := world.subreddit_by_id(ident)) is not None:
                children.append({"kind": "t5", "data": things.subreddit_data(world, sub)})
    return json_response(things.listing(children))


def _route(methods: str, pattern: str, family: str, handler: Handler) -> Route:
    return Route(frozenset(methods.split()), re.compile(pattern + r"\Z", re.IGNORECASE), family, handler)


ROUTES = (
    _route("POST", r"/api/v1/access_token", "token", token_handler),
    _route("GET", r"/r/(?P<sub>[^/]+)(?:/(?P<sort>hot|new|top|rising|controversial))?", "listing",
           listing_handler),
    _route("GET", r"/r/(?P<sub>[^/]+)/about", "about", about_handler),
    _route("GET", r"/r/(?P<sub>[^/]+)/comments", "listing", subreddit_comments_handler),
    _route("GET", r"/(?:user|u)/(?P<user>[^/]+)/about", "user", user_handler),
    _route("GET", r"(?:/r/[^/]+)?/comments/(?P<post>[a-z0-9]+)(?:/(?P<slug>[^/]*)(?:/(?P<comment>[a-z0-9]+))?)?",
           "comments", comments_handler),
    _route("GET POST", r"/api/morechildren", "morechildren", morechildren_handler),
    _route("GET", r"/api/info", "info", info_handler),
)


def build_app(config: SimulatorConfig | None = None) -> web.Application:
    """The aiohttp application; ``app["world"]`` and ``app["stats"]`` expose the ground truth."""
    sim = Simulator(config or SimulatorConfig())
    app = web.Application(client_max_size=4 * 1024 * 1024)
    with warnings.catch_warnings():
        # Plain string keys are part of the public API (app["world"], app["stats"]).
        warnings.simplefilter("ignore", web.NotAppKeyWarning)
        app["sim"] = sim
        app["world"] = sim.world
        app["stats"] = sim.stats
        app["config"] = sim.config

    async def on_startup(_: web.Application) -> None:
        sim.restart_clocks()

    app.on_startup.append(on_startup)
    app.router.add_route("*", "/{path:.*}", sim.dispatch)
    return app
