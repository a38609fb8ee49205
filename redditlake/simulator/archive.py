"""A Pushshift-style archive over the simulator's world, on a port of its own.

Two API shapes, one store (the same ``World`` the Reddit simulator serves, so tests check rows
against one truth):

* PullPush: ``/reddit/search/submission/`` and ``/reddit/search/comment/`` with ``subreddit``,
  ``author``, ``after``, ``before`` (epoch seconds, exclusive), ``size`` (capped), ``sort``
  (``asc``/``desc``, default ``desc``), ``sort_type`` (``created_utc`` only here).
* Arctic Shift: ``/api/posts/search`` and ``/api/comments/search`` (same filters, ``limit`` 1-100,
  else 400), and ``/api/comments/tree?link_id=t3_…`` (a post's comments nested Reddit-style).

Unlike Reddit's listings there is no 1,000-item cap: everything older than ``lag_seconds`` is
there. Like real archives, each item is a snapshot taken ``snapshot_after`` seconds after it was
created (``retrieved_on``), so scores and comment counts are stale. Rate limited per client
address with ``X-RateLimit-*`` headers and 429s, and faulty on demand (``FaultConfig``).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from . import things, timeline
from .config import FaultConfig
from .content import Comment, Post, World
from .faults import ERROR_HTML, HTML_DOWN, REASONS, FaultInjector
from .ratelimit import FixedWindowLimiter
from .serving import AppThread



class ArchiveConfig(BaseModel):
    requests_per_window: int = Field(120, ge=0)
    window_seconds: float = Field(60.0, gt=0)
    max_size: int = Field(100, ge=1, description="most items one search answers (PullPush caps size; Arctic Shift 400s above)")
    lag_seconds: float = Field(0.0, ge=0, description="items younger than this are not archived yet")
    snapshot_after: float = Field(3600.0, ge=0, description="an item's archived copy was taken this long after creation")
    settled_after: float | None = Field(None, ge=0, description="the second retrieval (Arctic Shift's: 36 h): from "
                                        "then on an item's copy shows its state this long after creation; None: none")
    faults: FaultConfig = Field(default_factory=FaultConfig)


def _dumps(obj: Any) -> bytes:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode()


def _json(obj: Any, status: int = 200) -> web.Response:
    return web.Response(body=_dumps(obj), status=status, content_type="application/json", charset="utf-8")


def _float(params: dict[str, str], name: str) -> float | None:
    value = params.get(name)
    if value in (None, ""):
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"{name} must be epoch seconds, got {value!r}") from None


class Archive:
    """The archive's state: config, rate limiter, faults, request counts."""

    def __init__(self, world: World, config: ArchiveConfig | None = None) -> None:
        self.world = world
        self.config = config or ArchiveConfig()
        self.faults = FaultInjector(self.config.faults)
        self.limiter = FixedWindowLimiter(self.config.requests_per_window, self.config.window_seconds)
        self.started = time.monotonic()
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()

    def _count(self, key: str) -> None:
        with self._lock:
            self.counts[key] += 1

    def stats(self) -> dict[str, int]:
        with self._lock:
            return dict(self.counts)

    # -- request pipeline ---------------------------------------------------------------

    async def dispatch(self, request: web.Request) -> web.StreamResponse:
        path = request.path.rstrip("/") or "/"
        route = ROUTES.get(path)
        self._count("requests")
        verdict = self.limiter.hit(request.remote or "?")
        headers = {
            "X-RateLimit-Remaining": str(int(verdict.remaining)),
            "X-RateLimit-Reset": str(verdict.reset),
            "X-RateLimit-Used": str(verdict.used),
        }
        if not verdict.allowed:
            self._count("429")
            response = _json({"error": "Too many requests"}, status=429)
            response.headers.update({**headers, "Retry-After": str(max(verdict.reset, 1))})
            return response
        await asyncio.sleep(0)
        decision = self.faults.decide(time.monotonic() - self.started)
        if decision.delay:
            await asyncio.sleep(decision.delay)
        fault = decision.fault
        if fault is not None:
            self._count(f"fault_{fault.kind}")
            if fault.kind == "reset":
                if request.transport is not None:
                    request.transport.abort()
                return web.Response(status=500)
            if fault.kind in ("outage", "error_5xx"):
                text = ERROR_HTML.format(status=fault.status, reason=REASONS[fault.status])
                response = web.Response(text=text, status=fault.status, content_type="text/html")
                response.headers.update(headers)
                return response
        if route is None:
            response = _json({"error": "Not Found"}, status=404)
        else:
            self._count(path)
            try:
                with self.world.lock:
                    response = _json(route(self, dict(request.query)))
            except ValueError as exc:
                response = _json({"error": str(exc)}, status=400)
        if fault is not None and fault.kind == "html_200":
            response = web.Response(text=HTML_DOWN, content_type="text/html")
        elif fault is not None and fault.kind == "truncated_json":
            body = bytes(response.body)
            response = web.Response(body=body[: len(body) // 2], content_type="application/json")
        response.headers.update(headers)
        return response

    # -- searching ----------------------------------------------------------------------

    def _snapshot_time(self, created: float, now: float) -> float:
        if self.config.settled_after is not None and now >= created + self.config.settled_after:
            return created + self.config.settled_after
        return min(now, created + self.config.snapshot_after)

    def _cutoff(self) -> float:
        return self.world.now - self.config.lag_seconds

    def _subs(self, params: dict[str, str]):
        name = params.get("subreddit")
        if name:
            sub = self.world.subreddit(name)
            return [sub] if sub is not None and sub.kind == "public" else []
        if not params.get("author"):
            raise ValueError("give subreddit or author")
        return self.world.content_subreddits()

    def _window(self, params: dict[str, str], size_param: str, strict_size: bool) -> tuple[float | None, float | None, int, bool]:
        after, before = _float(params, "after"), _float(params, "before")
        raw = params.get(size_param)
        try:
            size = int(raw) if raw not in (None, "", "auto") else self.config.max_size
        except ValueError:
            raise ValueError(f"{size_param} must be a number, got {raw!r}") from None
        if strict_size and not 1 <= size <= self.config.max_size:
            raise ValueError(f"{size_param} must be between 1 and {self.config.max_size}")
        size = max(1, min(size, self.config.max_size))
        sort = params.get("sort", "desc").lower()
        if sort not in ("asc", "desc"):
            raise ValueError("sort must be asc or desc")
        if params.get("sort_type", "created_utc") != "created_utc":
            raise ValueError("only sort_type=created_utc is supported")
        return after, before, size, sort == "desc"

    def search_posts(self, params: dict[str, str], size_param: str, strict_size: bool) -> list[dict]:
        after, before, size, desc = self._window(params, size_param, strict_size)
        cutoff, now, author = self._cutoff(), self.world.now, params.get("author")
        found: list[Post] = []
        for sub in self._subs(params):
            found.extend(
                p for p in timeline.posts(self.world, sub)
                if p.created <= cutoff
                and (after is None or p.created > after)
                and (before is None or p.created < before)
                and (author is None or p.author == author)
            )
        found.sort(key=lambda p: (p.created, p.number), reverse=desc)
        return [self.post_item(p, now) for p in found[:size]]

    def search_comments(self, params: dict[str, str], size_param: str, strict_size: bool) -> list[dict]:
        after, before, size, desc = self._window(params, size_param, strict_size)
        cutoff, now, author = self._cutoff(), self.world.now, params.get("author")
        link = params.get("link_id", "").removeprefix("t3_") or None
        found: list[tuple[Comment, Post]] = []
        for sub in self._subs(params):
            found.extend(
                (c, p) for c, p in timeline.comments(self.world, sub)
                if c.created <= cutoff
                and (after is None or c.created > after)
                and (before is None or c.created < before)
                and (author is None or c.author == author)
                and (link is None or p.id == link)
            )
        found.sort(key=lambda cp: (cp[0].created, cp[1].number, cp[0].seq), reverse=desc)
        return [self.comment_item(c, p, now) for c, p in found[:size]]

    def post_item(self, post: Post, now: float) -> dict:
        at = self._snapshot_time(post.created, now)
        data = things.post_data(self.world, post, at)
        data["retrieved_on"] = int(at)
        return data

    def comment_item(self, comment: Comment, post: Post, now: float) -> dict:
        at = self._snapshot_time(comment.created, now)
        data = things.flat_comment_data(self.world, comment, post, at)
        data.pop("replies", None)
        data["retrieved_on"] = int(at)
        return data

    def comment_tree(self, params: dict[str, str]) -> list[dict]:
        link = params.get("link_id", "").removeprefix("t3_")
        post = self.world.post(link) if link else None
        if post is None:
            raise ValueError("link_id must name an archived post (t3_…)")
        limit = int(params.get("limit") or 25000)
        now, cutoff = self.world.now, self._cutoff()
        thread = self.world.thread(post)
        visible = [c for c in thread.comments[: thread.visible_count(now)] if c.created <= cutoff][:limit]
        kept = {c.id for c in visible}
        nodes: dict[str | None, list[dict]] = {}
        # Creation order: a parent always precedes its replies, so children are attached bottom-up.
        for comment in reversed(visible):
            data = self.comment_item(comment, post, now)
            replies = nodes.pop(comment.id, [])
            data["replies"] = {"kind": "Listing", "data": {"children": replies[::-1]}} if replies else ""
            parent = comment.parent if comment.parent in kept else None
            nodes.setdefault(parent, []).append({"kind": "t1", "data": data})
        return nodes.get(None, [])[::-1]


def _pullpush_posts(archive: Archive, params: dict[str, str]) -> dict:
    return {"data": archive.search_posts(params, "size", strict_size=False)}


def _pullpush_comments(archive: Archive, params: dict[str, str]) -> dict:
    return {"data": archive.search_comments(params, "size", strict_size=False)}


def _arctic_posts(archive: Archive, params: dict[str, str]) -> dict:
    return {"data": archive.search_posts(params, "limit", strict_size=True), "error": None}


def _arctic_comments(archive: Archive, params: dict[str, str]) -> dict:
    return {"data": archive.search_comments(params, "limit", strict_size=True), "error": None}


def _arctic_tree(archive: Archive, params: dict[str, str]) -> dict:
    return {"data": archive.comment_tree(params), "error": None}


ROUTES = {
    "/reddit/search/submission": _pullpush_posts,
    "/reddit/submission/search": _pullpush_posts,
    "/reddit/search/comment": _pullpush_comments,
    "/reddit/comment/search": _pullpush_comments,
    "/api/posts/search": _arctic_posts,
    "/api/comments/search": _arctic_comments,
    "/api/comments/tree": _arctic_tree,
}


def build_archive_app(archive: Archive) -> web.Application:
    app = web.Application()
    app.router.add_route("*", "/{path:.*}", archive.dispatch)
    return app


class ArchiveThread:
    """The archive on its own event loop in a daemon thread, next to a ``SimulatorThread``."""

    def __init__(self, world: World, config: ArchiveConfig | None = None, port: int = 0) -> None:
        self.archive = Archive(world, config)
        self._serving = AppThread(build_archive_app(self.archive), "archive-simulator", port)

    @property
    def port(self) -> int:
        return self._serving.port

    @property
    def url(self) -> str:
        return self._serving.url

    def set_faults(self, faults: FaultConfig) -> None:
        self.archive.faults.replace(faults)

    def start(self) -> ArchiveThread:
        self._serving.start()
        self.archive.started = time.monotonic()
        return self

    def stop(self) -> None:
        self._serving.stop()

    def __enter__(self) -> ArchiveThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
