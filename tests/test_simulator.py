"""Specification tests of the Reddit API simulator (redditlake.simulator).

Raw aiohttp checks the wire format; real asyncpraw checks that the library works unchanged.
Each async test runs its own loop through ``run``; no network beyond 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import base64
import json
import time
import urllib.request
from collections import Counter
from collections.abc import Mapping

import aiohttp
import asyncpraw
import asyncprawcore
import pytest

from redditlake.simulator import (
    FaultConfig,
    SimulatorConfig,
    SimulatorThread,
    World,
    build_app,
    running_simulator,
)
from redditlake.simulator.trees import MORECHILDREN_MAX_IDS

CLIENT, SECRET = "sim-client", "sim-secret"
GENEROUS = 1_000_000  # a rate budget tests never exhaust


def run(coro):
    return asyncio.run(coro)


def small_config(**overrides) -> SimulatorConfig:
    base = {"subreddits": ["python", "aww"], "posts_per_subreddit": 120, "requests_per_window": GENEROUS,
            "random_ids": "all"}
    base.update(overrides)
    return SimulatorConfig(**base)


def basic(client: str = CLIENT, secret: str = SECRET) -> str:
    return "Basic " + base64.b64encode(f"{client}:{secret}".encode()).decode()


class Api:
    """A thin raw-HTTP client for one running simulator."""

    def __init__(self, http: aiohttp.ClientSession, url: str) -> None:
        self.http, self.url, self.token = http, url, None

    async def login(self, client: str = CLIENT, secret: str = SECRET) -> Api:
        async with self.http.post(self.url + "/api/v1/access_token", data={"grant_type": "client_credentials"},
                                  headers={"Authorization": basic(client, secret)}) as resp:
            assert resp.status == 200
            self.token = (await resp.json())["access_token"]
        return self

    async def get(self, path: str, **params) -> tuple[int, Mapping[str, str], object]:
        headers = {"Authorization": f"bearer {self.token}"} if self.token else {}
        async with self.http.get(self.url + path, params={**params, "raw_json": "1"}, headers=headers,
                                 allow_redirects=False) as resp:
            body = await resp.read()
            try:
                data = json.loads(body)
            except ValueError:
                data = body
            return resp.status, resp.headers.copy(), data

    async def post(self, path: str, data: dict) -> tuple[int, Mapping[str, str], object]:
        async with self.http.post(self.url + path, data=data,
                                  headers={"Authorization": f"bearer {self.token}"}) as resp:
            return resp.status, resp.headers.copy(), await resp.json()


async def with_api(config: SimulatorConfig, body):
    async with running_simulator(config) as sim, aiohttp.ClientSession() as http:
        api = await Api(http, sim.url).login()
        return await body(sim, api)


def page_ids(listing: dict) -> list[str]:
    return [child["data"]["id"] for child in listing["data"]["children"]]


# -- authentication -------------------------------------------------------------------------


def test_token_endpoint_accepts_known_clients_and_rejects_bad_credentials():
    async def body():
        async with running_simulator(small_config()) as sim, aiohttp.ClientSession() as http:
            url = sim.url + "/api/v1/access_token"
            for auth in (basic(secret="wrong"), basic(client="nobody")):
                async with http.post(url, data={"grant_type": "client_credentials"},
                                     headers={"Authorization": auth}) as resp:
                    assert resp.status == 401
                    assert await resp.json() == {"message": "Unauthorized", "error": 401}
            async with http.post(url, data={"grant_type": "password", "username": "u", "password": "p"},
                                 headers={"Authorization": basic()}) as resp:
                token = await resp.json()
            assert token["token_type"] == "bearer" and token["expires_in"] == 86400 and token["scope"] == "*"
            assert token["access_token"]

    run(body())


def test_api_requires_a_known_bearer_token():
    async def body():
        async with running_simulator(small_config()) as sim, aiohttp.ClientSession() as http:
            api = Api(http, sim.url)
            assert (await api.get("/r/python/new"))[0] == 401
            api.token = "forged"
            assert (await api.get("/r/python/new"))[0] == 401
            await api.login()
            assert (await api.get("/r/python/new"))[0] == 200

    run(body())


# -- listings -------------------------------------------------------------------------------


def test_listing_paginates_to_the_end_without_repeats_and_stops_at_the_cap():
    async def body(sim, api):
        seen: list[str] = []
        after = None
        while True:
            params = {"limit": "100", **({"after": after} if after else {})}
            status, _, listing = await api.get("/r/python/new", **params)
            assert status == 200 and listing["kind"] == "Listing"
            assert listing["data"]["dist"] == len(listing["data"]["children"]) <= 100
            seen += page_ids(listing)
            after = listing["data"]["after"]
            if after is None:
                break
        assert len(seen) == len(set(seen)) == 250  # listing_cap
        created = [sim.world.post(i).created for i in seen]
        assert created == sorted(created, reverse=True)
        assert set(seen) <= set(sim.world.post_ids("python"))

    run(with_api(small_config(posts_per_subreddit=300, listing_cap=250), body))


def test_listing_sorts_and_the_post_shape():
    async def body(sim, api):
        _, _, hot = await api.get("/r/aww/hot", limit="100")
        children = [c["data"] for c in hot["data"]["children"]]
        stickied = [c["stickied"] for c in children]
        assert stickied[0] and stickied == sorted(stickied, reverse=True)  # 1-2 stickies, first
        _, _, top = await api.get("/r/aww/top", limit="100", t="all")
        scores = [c["data"]["score"] for c in top["data"]["children"]]
        assert scores == sorted(scores, reverse=True)
        _, _, top_day = await api.get("/r/aww/top", t="day")
        assert all(c["data"]["created_utc"] >= sim.world.now - 86400 for c in top_day["data"]["children"])
        for sort in ("rising", "controversial"):
            status, _, listing = await api.get(f"/r/aww/{sort}", t="week")
            assert status == 200
        # Path spellings Reddit accepts.
        for path in ("/r/aww/new/", "/r/aww/new.json", "/r/aww"):
            assert (await api.get(path))[0] == 200

        post = children[3]
        for key in ("id", "name", "title", "selftext", "author", "author_fullname", "subreddit", "subreddit_id",
                    "subreddit_name_prefixed", "score", "ups", "downs", "upvote_ratio", "num_comments",
                    "created_utc", "created", "edited", "permalink", "url", "domain", "is_self", "is_video",
                    "over_18", "spoiler", "stickied", "locked", "link_flair_text", "thumbnail", "media",
                    "distinguished", "gilded", "total_awards_received", "archived", "removed_by_category"):
            assert key in post, key
        assert post["name"] == "t3_" + post["id"] and 6 <= len(post["id"]) <= 7
        # num_comments counts what the tree hides too (deleted leaves, removed, spam-filtered).
        assert post["num_comments"] == len(sim.world.comment_ids(post["id"])) + len(sim.world.hidden_comment_ids(post["id"]))
        assert isinstance(post["created_utc"], float)

    run(with_api(small_config(), body))


def test_unknown_private_banned_and_quarantined_subreddits():
    async def body(sim, api):
        status, headers, _ = await api.get("/r/doesnotexist/new")
        assert status == 302 and headers["Location"] == "/subreddits/search.json?q=doesnotexist"
        assert (await api.get("/r/doesnotexist/about"))[0] == 404
        for path in ("/r/secretclub/new", "/r/secretclub/about"):
            status, _, data = await api.get(path)
            assert (status, data["reason"]) == (403, "private")
        for path in ("/r/bannedsub/hot", "/r/bannedsub/about"):
            status, _, data = await api.get(path)
            assert (status, data["reason"]) == (404, "banned")
        status, _, data = await api.get("/r/quarantinedsub/hot")
        assert (status, data["reason"]) == (403, "quarantined") and data["quarantine_message"]

        status, _, about = await api.get("/r/python/about")
        assert status == 200 and about["kind"] == "t5"
        assert about["data"]["display_name"] == "python" and about["data"]["name"].startswith("t5_")
        assert about["data"]["url"] == "/r/python/"

    run(with_api(small_config(), body))


def test_asyncpraw_sees_redirects_and_forbidden_as_its_exceptions():
    async def body():
        async with running_simulator(small_config()) as sim:
            async with asyncpraw.Reddit(**sim.reddit_kwargs()) as reddit:
                with pytest.raises(asyncprawcore.Redirect):
                    [s async for s in (await reddit.subreddit("nosuchsub")).new(limit=5)]
                with pytest.raises(asyncprawcore.Forbidden):
                    [s async for s in (await reddit.subreddit("secretclub")).new(limit=5)]

    run(body())


# -- rate limit -----------------------------------------------------------------------------


def test_rate_limit_headers_and_429_after_the_budget():
    async def body(sim, api):
        statuses = []
        for _ in range(7):
            status, headers, _ = await api.get("/r/python/new", limit="1")
            statuses.append(status)
            assert headers["X-Ratelimit-Used"].isdigit()
            assert headers["X-Ratelimit-Reset"].isdigit() and 0 < int(headers["X-Ratelimit-Reset"]) <= 60
            float(headers["X-Ratelimit-Remaining"])
        assert statuses == [200] * 5 + [429, 429]
        assert headers["X-Ratelimit-Remaining"] == "0.0" and headers["X-Ratelimit-Used"] == "5"
        # The budget is per client id: a second token of the same client shares it.
        other = await Api(api.http, api.url).login()
        assert (await other.get("/r/python/new"))[0] == 429
        stats = sim.stats.snapshot()
        assert stats["rate_limited"] == 3 and stats["by_status"]["429"] == 3
        assert stats["by_client"][CLIENT] == 8

    run(with_api(small_config(requests_per_window=5), body))


def test_rate_limit_window_resets():
    async def body(sim, api):
        assert (await api.get("/r/python/new"))[0] == 200
        assert (await api.get("/r/python/new"))[0] == 429
        await asyncio.sleep(1.05)
        status, headers, _ = await api.get("/r/python/new")
        assert status == 200 and headers["X-Ratelimit-Used"] == "1"

    run(with_api(small_config(requests_per_window=1, window_seconds=1.0), body))


# -- comment trees --------------------------------------------------------------------------


def biggest_posts(world: World, subreddit: str, n: int) -> list[str]:
    return sorted(world.post_ids(subreddit), key=lambda p: -len(world.comment_ids(p)))[:n]


def deepest_post(world: World, subreddit: str) -> str:
    def depth(post_id):
        return max((c.depth for c in world.thread(world.post(post_id)).comments), default=-1)

    return max(world.post_ids(subreddit), key=depth)


def walk(items: list[dict], out: list[dict]) -> list[dict]:
    for item in items:
        out.append(item)
        replies = item["data"].get("replies")
        if item["kind"] == "t1" and replies:
            walk(replies["data"]["children"], out)
    return out


def test_comment_tree_is_cut_into_more_stubs_like_reddit():
    async def body(sim, api):
        world = sim.world
        post_id = biggest_posts(world, "python", 1)[0]
        status, _, (post_listing, comments) = await api.get(f"/comments/{post_id}", limit="500")
        assert status == 200
        assert post_listing["data"]["children"][0]["data"]["id"] == post_id
        items = walk(comments["data"]["children"], [])
        shown = [i["data"] for i in items if i["kind"] == "t1"]
        stubs = [i["data"] for i in items if i["kind"] == "more"]
        assert stubs and len(shown) < len(world.comment_ids(post_id))
        for stub in stubs:
            if stub["id"] == "_":  # continue this thread
                assert stub["count"] == 0 and stub["children"] == [] and stub["name"] == "t1__"
            else:
                assert stub["name"] == "t1_" + stub["children"][0] and stub["count"] >= len(stub["children"])
        # Every comment is either shown, or hidden behind exactly one stub: a sibling stub counts
        # its hidden comments, a "continue this thread" stub hides all replies of its parent.
        thread = world.thread(world.post(post_id))
        on_show = set(world.comment_ids(post_id))  # hidden comments are in no stub

        def descendants(comment_id):
            kids = [k for k in thread.children.get(comment_id, []) if k in on_show]
            return len(kids) + sum(descendants(k) for k in kids)

        hidden = sum(s["count"] for s in stubs)
        continued = sum(descendants(s["parent_id"][3:]) for s in stubs if s["id"] == "_")
        assert len(shown) + hidden + continued == len(world.comment_ids(post_id))
        assert len({c["id"] for c in shown}) == len(shown)
        for comment in shown:
            assert comment["replies"] == "" or comment["replies"]["kind"] == "Listing"
            assert comment["link_id"] == "t3_" + post_id and comment["parent_id"][:3] in ("t1_", "t3_")

        # A small limit cuts the top level too.
        _, _, (_, few) = await api.get(f"/comments/{post_id}", limit="5")
        assert len([i for i in walk(few["data"]["children"], []) if i["kind"] == "t1"]) == 5

        # depth=1: only top-level comments, replies behind "continue this thread".
        _, _, (_, flat) = await api.get(f"/comments/{post_id}", depth="1")
        assert all(c["data"]["depth"] == 0 for c in walk(flat["data"]["children"], []) if c["kind"] == "t1")

    run(with_api(small_config(), body))


def test_focused_comment_view_returns_exactly_that_comment():
    async def body(sim, api):
        world = sim.world
        post_id = deepest_post(world, "python")
        on_show = set(world.comment_ids(post_id))
        deep = max((c for c in world.thread(world.post(post_id)).comments if c.id in on_show), key=lambda c: c.depth)
        while deep.depth > 5:
            deep = world.comment(deep.parent)
        for path in (f"/comments/{post_id}/_/{deep.id}", f"/r/python/comments/{post_id}/some_slug/{deep.id}/"):
            status, _, (_, listing) = await api.get(path)
            assert status == 200
            (only,) = listing["data"]["children"]
            assert only["data"]["id"] == deep.id and only["data"]["depth"] == deep.depth
        other_post = next(p for p in world.post_ids("python") if p != post_id)
        assert (await api.get(f"/comments/{other_post}/_/{deep.id}"))[0] == 404

    run(with_api(small_config(), body))


def test_asyncpraw_replace_more_collects_every_comment_exactly_once():
    async def body():
        async with running_simulator(small_config()) as sim:
            world = sim.world
            posts = biggest_posts(world, "python", 4) + [deepest_post(world, "python")]
            assert max(c.depth for c in world.thread(world.post(posts[-1])).comments) > 10
            async with asyncpraw.Reddit(**sim.reddit_kwargs()) as reddit:
                for post_id in dict.fromkeys(posts):
                    submission = await reddit.submission(post_id)
                    await submission.comments.replace_more(limit=None)
                    got = [c.id for c in submission.comments.list()]
                    assert len(got) == len(set(got))
                    assert sorted(got) == sorted(world.comment_ids(post_id))
            stats = sim.stats.snapshot()
            assert stats["by_family"]["morechildren"] > 0
            # "continue this thread" stubs were followed through the focused view.
            assert stats["by_family"]["comments"] > len(set(posts))

    run(body())


def expand_everything(cutter, post, sort: str, depth: int | None) -> list[str]:
    """Expand a tree the way asyncpraw does, but through every stub; return all comment ids seen."""
    world = cutter.world
    seen: list[str] = []
    pending: list[dict] = []

    def take(items, nested):
        for item in items:
            if item["kind"] == "more":
                pending.append(item["data"])
                continue
            seen.append(item["data"]["id"])
            replies = item["data"]["replies"]
            if nested and replies:
                take(replies["data"]["children"], nested)

    take(cutter.comments(post, sort=sort, limit=500, depth=depth), nested=True)
    while pending:
        stub = pending.pop()
        if stub["id"] == "_":
            focus = world.comment(stub["parent_id"][3:])
            (only,) = cutter.comments(post, sort=sort, limit=500, depth=depth, focus=focus)
            take(only["data"]["replies"]["data"]["children"], nested=True)
        else:
            take(cutter.morechildren(post, stub["children"], sort=sort, depth=depth, limit_children=False),
                 nested=False)
    return seen


@pytest.mark.parametrize(("sort", "depth"), [("confidence", None), ("new", 3), ("top", 1), ("old", None)])
def test_repeated_expansion_reaches_every_comment_exactly_once(sort, depth):
    from redditlake.simulator.trees import TreeCutter

    world = World(small_config(comments_per_post_mean=40))
    cutter = TreeCutter(world)
    with world.lock:
        for post_id in world.post_ids("python"):
            seen = expand_everything(cutter, world.post(post_id), sort, depth)
            assert len(seen) == len(set(seen))
            assert set(seen) == set(world.comment_ids(post_id)), post_id


def test_asyncpraw_handles_stubs_of_more_than_100_ids():
    from redditlake.simulator.trees import TreeCutter

    config = small_config(subreddits=["python"], posts_per_subreddit=3, comments_per_post_mean=1500)

    async def body():
        async with running_simulator(config) as sim:
            world = sim.world
            post_id = max(world.post_ids("python"), key=lambda p: len(world.thread(world.post(p)).children[None]))
            # A small comment_limit leaves most top-level comments in one big stub, which
            # asyncpraw sends to morechildren whole; the answer must hand back what it skips.
            with world.lock:
                top = TreeCutter(world).comments(world.post(post_id), sort="confidence", limit=20, depth=None)
            assert top[-1]["kind"] == "more" and len(top[-1]["data"]["children"]) > MORECHILDREN_MAX_IDS
            async with asyncpraw.Reddit(**sim.reddit_kwargs()) as reddit:
                submission = await reddit.submission(post_id, fetch=False)
                submission.comment_limit = 20
                await submission.load()
                await submission.comments.replace_more(limit=None)
                got = [c.id for c in submission.comments.list()]
            assert len(got) == len(set(got)) and sorted(got) == sorted(world.comment_ids(post_id))

    run(body())


def test_trees_hide_gone_comments_without_replies_while_num_comments_counts_them():
    """Reddit's trees leave out deleted, removed and spam-filtered comments that have no shown
    reply, yet num_comments counts them; one with shown replies stays as a placeholder."""
    config = small_config(subreddits=["python"], posts_per_subreddit=60, comments_per_post_mean=60)

    async def body():
        async with running_simulator(config) as sim:
            world = sim.world
            posts = world.post_ids("python")
            hidden = {p: world.hidden_comment_ids(p) for p in posts}
            assert sum(map(len, hidden.values())) > 0, "hiding is on by default"
            with world.lock:
                gone = [c for p in posts for c in world.thread(world.post(p)).comments if c.id in hidden[p]]
            assert all(c.gone for c in gone)
            assert {kind for c in gone for kind in ("deleted", "removed", "spam") if getattr(c, kind)} == {
                "deleted", "removed", "spam"}
            post_id = max((p for p in posts if hidden[p]), key=lambda p: len(world.comment_ids(p)))
            async with asyncpraw.Reddit(**sim.reddit_kwargs()) as reddit:
                submission = await reddit.submission(post_id)
                await submission.comments.replace_more(limit=None)
                got = {c.id: c for c in submission.comments.list()}
            assert sorted(got) == sorted(world.comment_ids(post_id))
            assert not set(got) & set(hidden[post_id])
            assert submission.num_comments == len(got) + len(hidden[post_id])
            # A gone comment that is shown has a shown reply and is shown as a placeholder.
            shown_gone = [c for c in world.thread(world.post(post_id)).comments if c.id in got and c.gone]
            for comment in shown_gone:
                assert got[comment.id].body in ("[deleted]", "[removed]") and len(got[comment.id].replies) > 0
            truth = await asyncio.to_thread(http_json, sim.url + "/_sim/truth/python")
            assert truth["hidden"][post_id] == hidden[post_id]
            assert truth["comments"][post_id] == world.comment_ids(post_id)

            # Deleting a leaf now: it leaves the tree, num_comments keeps counting it.
            leaf = next(c for c in world.comment_ids(post_id) if c not in {x.parent for x in shown_gone}
                        and not world.thread(world.post(post_id)).children.get(c))
            before = len(world.comment_ids(post_id)) + len(world.hidden_comment_ids(post_id))
            world.delete("t1_" + leaf)
            assert leaf in world.hidden_comment_ids(post_id) and leaf not in world.comment_ids(post_id)
            assert len(world.comment_ids(post_id)) + len(world.hidden_comment_ids(post_id)) == before

    run(body())
    plain = World(config.model_copy(update={"comment_deleted_rate": 0, "comment_removed_rate": 0,
                                            "comment_spam_rate": 0}))
    assert not any(plain.hidden_comment_ids(p) for p in plain.post_ids("python"))


def test_morechildren_handles_at_most_100_ids_and_returns_a_stub_for_the_rest():
    async def body(sim, api):
        world = sim.world
        post_id = next(p for p in world.post_ids("python")
                       if len(world.thread(world.post(p)).children[None]) >= 150)
        on_show = set(world.comment_ids(post_id))
        top_level = [c for c in world.thread(world.post(post_id)).children[None] if c in on_show]
        ids = top_level[:150]
        status, _, data = await api.post("/api/morechildren", {
            "link_id": "t3_" + post_id, "children": ",".join(ids), "api_type": "json", "sort": "new"})
        assert status == 200 and data["json"]["errors"] == []
        things_ = data["json"]["data"]["things"]
        returned = [t["data"]["id"] for t in things_ if t["kind"] == "t1"]
        requested_back = [i for i in returned if i in ids]
        # At most 100 comments, the requested ones and their replies together.
        assert 0 < len(requested_back) < MORECHILDREN_MAX_IDS and len(returned) <= 100
        # Every id asked and not answered (past the first 100, or not fitting) comes back in
        # one new stub under the post.
        (rest,) = [t["data"] for t in things_ if t["kind"] == "more" and set(t["data"]["children"]) & set(ids)]
        assert sorted(rest["children"]) == sorted(set(ids) - set(requested_back))
        assert rest["parent_id"] == "t3_" + post_id
        assert len(things_) <= 250
        # Flat, and every parent precedes its replies.
        seen = {"t3_" + post_id} | {"t1_" + c for c in world.comment_ids(post_id) if c not in returned}
        for thing in things_:
            assert thing["data"]["parent_id"] in seen
            if thing["kind"] == "t1":
                assert thing["data"]["replies"] == ""
                seen.add(thing["data"]["name"])
        # Ids of another post are ignored.
        other = next(p for p in world.post_ids("python") if p != post_id and world.comment_ids(p))
        _, _, data = await api.post("/api/morechildren", {
            "link_id": "t3_" + post_id, "children": world.comment_ids(other)[0], "api_type": "json"})
        assert data["json"]["data"]["things"] == []

    run(with_api(small_config(comments_per_post_mean=120), body))


def big_world(**overrides) -> World:
    return World(small_config(subreddits=["python"], posts_per_subreddit=20, comments_per_post_mean=5,
                              big_thread_share=0.3, big_thread_comments=(1000, 5000), **overrides))


def test_big_threads_are_wide_deep_and_leave_other_threads_as_they_were():
    world = big_world()
    plain = World(small_config(subreddits=["python"], posts_per_subreddit=20, comments_per_post_mean=5))
    sizes = {p: len(world.comment_ids(p)) for p in world.post_ids("python")}
    big = [p for p, n in sizes.items() if n >= 1000]
    assert big and all(n <= 5000 for n in sizes.values())
    for post_id in big:
        thread = world.thread(world.post(post_id))
        assert len(thread.children[None]) >= 100  # wide
        assert max(c.depth for c in thread.comments) >= 10  # deep
    assert all(sizes[p] == len(plain.comment_ids(p)) for p in sizes if p not in big)


def test_morechildren_hands_back_requested_ids_that_do_not_fit_with_their_replies():
    from redditlake.simulator.trees import TreeCutter

    world = big_world()
    cutter = TreeCutter(world)
    post_id = max(world.post_ids("python"), key=lambda p: len(world.comment_ids(p)))
    with world.lock:
        post = world.post(post_id)
        thread = world.thread(post)
        # Top-level comments with replies: their expansion fills the answer before all are answered.
        on_show = set(world.comment_ids(post_id))
        ids = [c for c in thread.children[None] if c in on_show and on_show & set(thread.children.get(c, []))][:100]
        answer = cutter.morechildren(post, ids, sort="confidence", depth=None, limit_children=False)
    comments = [t["data"]["id"] for t in answer if t["kind"] == "t1"]
    assert len(comments) == 100 and len(set(comments)) == 100
    answered = set(comments) & set(ids)
    replies = set(comments) - set(ids)
    assert answered and replies  # requested ones came with their replies ...
    (back,) = [t["data"] for t in answer if t["kind"] == "more" and t["data"]["parent_id"] == "t3_" + post_id]
    assert set(back["children"]) == set(ids) - answered  # ... and the rest came back, none lost


def test_repeated_expansion_of_big_threads_reaches_every_comment_exactly_once():
    from redditlake.simulator.trees import TreeCutter

    world = big_world()
    cutter = TreeCutter(world)
    expanded = 0
    with world.lock:
        for post_id in world.post_ids("python"):
            if len(world.comment_ids(post_id)) < 1000:
                continue
            seen = expand_everything(cutter, world.post(post_id), "confidence", None)
            assert len(seen) == len(set(seen)) and set(seen) == set(world.comment_ids(post_id))
            expanded += 1
    assert expanded > 0  # the world has threads past 1,000 comments, or this checked nothing


def test_unexpandable_comments_are_handed_back_and_their_thread_points_at_itself():
    from redditlake.simulator.faults import FaultInjector
    from redditlake.simulator.trees import TreeCutter

    world = big_world()
    faults = FaultInjector(FaultConfig(unexpandable_rate=0.05))
    cutter = TreeCutter(world, faults.unexpandable)
    post_id = max(world.post_ids("python"), key=lambda p: len(world.comment_ids(p)))
    with world.lock:
        post = world.post(post_id)
        thread = world.thread(post)
        stuck = [c for c in world.comment_ids(post_id) if faults.unexpandable(c)]
        assert 0 < len(stuck) < len(thread.comments) * 0.1
        answer = cutter.morechildren(post, stuck[:50], sort="confidence", depth=None, limit_children=False)
        assert not [t for t in answer if t["kind"] == "t1" and t["data"]["id"] in stuck]
        assert {i for t in answer if t["kind"] == "more" for i in t["data"]["children"]} == set(stuck[:50])
        on_show = set(stuck) | set(world.comment_ids(post_id))
        parent = next(c for c in stuck if on_show & set(thread.children.get(c, [])))
        (only,) = cutter.comments(post, sort="confidence", limit=500, depth=None, focus=world.comment(parent))
        (cont,) = only["data"]["replies"]["data"]["children"]
        assert cont["data"]["id"] == "_" and cont["data"]["parent_id"] == "t1_" + parent


def test_morechildren_concurrency_per_client_is_counted():
    async def body(sim, api):
        world = sim.world
        post_id = biggest_posts(world, "python", 1)[0]
        ids = world.thread(world.post(post_id)).children[None][:3]
        form = {"link_id": "t3_" + post_id, "children": ",".join(ids), "api_type": "json"}
        await asyncio.gather(*(api.post("/api/morechildren", form) for _ in range(3)))
        stats = sim.stats.snapshot()
        assert stats["morechildren_concurrent_max"] >= 2 and stats["peak_concurrency"] >= 2

    run(with_api(small_config(latency_seconds=0.05), body))


# -- info, users ----------------------------------------------------------------------------


def test_info_returns_posts_comments_subreddits_and_deleted_things():
    async def body(sim, api):
        world = sim.world
        post_id = biggest_posts(world, "aww", 1)[0]
        comment_id = world.comment_ids(post_id)[0]
        world.delete("t1_" + comment_id)
        sub_id = world.subreddit("aww").id
        ids = f"t3_{post_id},t1_{comment_id},t5_{sub_id},t3_zzzzzzz,t1_nope"
        status, _, listing = await api.get("/api/info", id=ids)
        assert status == 200
        kinds = [c["kind"] for c in listing["data"]["children"]]
        assert kinds == ["t3", "t1", "t5"]
        comment = listing["data"]["children"][1]["data"]
        assert comment["author"] == "[deleted]" and comment["body"] == "[deleted]"
        too_many = ",".join(f"t3_{i}" for i in world.post_ids("aww")[:101])
        assert (await api.get("/api/info", id=too_many))[0] == 400

    run(with_api(small_config(), body))


def test_user_about_normal_suspended_and_deleted():
    async def body(sim, api):
        world = sim.world
        normal = next(a for a in world.accounts if not (a.suspended or a.deleted))
        gone = next(a for a in world.accounts if a.deleted)
        suspended = next(a for a in world.accounts if a.suspended)
        _, _, data = await api.get(f"/user/{normal.name}/about")
        assert data["kind"] == "t2" and data["data"]["name"] == normal.name
        for key in ("id", "created_utc", "link_karma", "comment_karma", "total_karma", "is_gold", "is_mod",
                    "verified", "has_verified_email"):
            assert key in data["data"]
        _, _, data = await api.get(f"/user/{suspended.name}/about")
        assert data["data"] == {**data["data"], "name": suspended.name, "is_suspended": True}
        assert (await api.get("/user/[deleted]/about"))[0] == 404
        assert (await api.get(f"/user/{gone.name}/about"))[0] == 404
        assert (await api.get("/user/nobody_at_all_123/about"))[0] == 404

    run(with_api(small_config(), body))


# -- content --------------------------------------------------------------------------------


def test_world_is_deterministic_and_cheap():
    started = time.perf_counter()
    a = World(SimulatorConfig())
    # a sanity bound only (~0.1 s on a quiet machine): content is made lazily, not up front
    assert time.perf_counter() - started < 5
    b = World(SimulatorConfig())
    assert a.post_ids("python") == b.post_ids("python")
    post = a.post_ids("python")[17]
    assert a.comment_ids(post) == b.comment_ids(post)
    assert a.now == b.now == World(SimulatorConfig(seed=7)).now
    assert World(SimulatorConfig(seed=7)).comment_ids(post) != a.comment_ids(post) or not a.comment_ids(post)


def _creation_ordered(ids: list[str]) -> bool:
    values = [int(i, 36) for i in ids]
    return values == sorted(values)


def test_random_ids_are_not_ordered_by_creation():
    """Reddit's comment ids are going random: the simulator's are by default, post ids too on demand."""
    worlds = {mode: World(small_config(random_ids=mode)) for mode in ("none", "comments", "all")}
    for mode, world in worlds.items():
        posts = world.post_ids("python")
        comments = [c for p in posts for c in world.comment_ids(p)]
        assert len(posts) > 50 and len(comments) > 500
        assert len(set(comments)) == len(comments) and all(len(c) == 7 for c in comments)
        # Every id still leads back to its comment and post, however it was generated.
        sample = comments[::97]
        assert all(world.comment(c) is not None and world.comment(c).id == c for c in sample)
        assert world.comment(sample[0]).post_id in posts
        # A thread's comments are in creation order: their ids are ordered only when sequential.
        threads = [world.comment_ids(p) for p in posts if len(world.comment_ids(p)) >= 20]
        ordered = [_creation_ordered(t) for t in threads]
        assert all(ordered) if mode == "none" else not any(ordered), mode
        assert _creation_ordered(posts) == (mode != "all"), mode


def test_comment_listing_is_newest_first_by_time_not_id():
    """``/r/{sub}/comments`` orders by ``created_utc``; with random ids the id order disagrees."""
    async def body(sim, api: Api) -> None:
        _, _, listing = await api.get("/r/python/comments", limit="100")
        items = [c["data"] for c in listing["data"]["children"]]
        created = [c["created_utc"] for c in items]
        assert len(items) == 100 and created == sorted(created, reverse=True)
        assert not _creation_ordered([c["id"] for c in items][::-1])

    run(with_api(small_config(), body))


def test_content_variety():
    from redditlake.simulator import things

    world = World(SimulatorConfig())
    now = world.now
    posts = [things.post_data(world, world.post(p), now) for s in world.config.subreddits
             for p in world.post_ids(s)]
    texts = " ".join(p["title"] + p["selftext"] for p in posts)
    for snippet in ("\u200b", "\u200d", "مرحبا", "שלום", "你好", "🐍", "AT&T <b>not html</b> 3 > 2"):
        assert snippet in texts, snippet
    assert any(len(p["selftext"]) >= 40_000 for p in posts)
    assert {"image", "hosted:video", "link"} <= {p.get("post_hint") for p in posts}
    galleries = [p for p in posts if p.get("is_gallery")]
    assert galleries and all(p["media_metadata"] and p["gallery_data"]["items"] for p in galleries)
    assert all("gallery_data" not in p for p in posts if not p.get("is_gallery"))
    assert any(p.get("crosspost_parent_list") for p in posts)
    assert any(p["over_18"] for p in posts)
    assert any(p["author"] == "[deleted]" and p["selftext"] in ("[deleted]", "") for p in posts)
    assert any(p["selftext"] == "[removed]" and p["removed_by_category"] == "moderator" for p in posts)
    assert any(p["score"] < 0 for p in posts)
    assert any(isinstance(p["edited"], float) for p in posts)
    counts = sorted(p["num_comments"] for p in posts)
    assert counts[-1] >= 300 and counts[len(counts) // 2] < 20  # heavy-tailed


def test_advance_adds_new_posts_comments_and_moves_scores():
    async def body(sim, api):
        world = sim.world
        before_ids = set(world.post_ids("python"))
        _, _, first = await api.get("/r/python/new", limit="5")
        newest_before = page_ids(first)[0]
        scores_before = {p: things_score(world, p) for p in list(before_ids)[:50]}
        recent = max(before_ids, key=lambda p: world.post(p).created)
        comments_before = len(world.comment_ids(recent))
        world.advance(2 * 86400)
        new_ids = set(world.post_ids("python")) - before_ids
        assert new_ids
        _, _, after = await api.get("/r/python/new", limit="100")
        fresh = page_ids(after)
        assert set(fresh[: len(new_ids)]) == new_ids and newest_before in fresh
        assert len(world.comment_ids(recent)) >= comments_before
        assert any(things_score(world, p) != s for p, s in scores_before.items())
        # A second world advanced in many small steps sees the same posts.
        other = World(small_config())
        for _ in range(48):
            other.advance(3600)
        assert other.post_ids("python") == world.post_ids("python")

    run(with_api(small_config(), body))


def things_score(world: World, post_id: str) -> int:
    from redditlake.simulator.ranking import post_score

    return post_score(world.post(post_id), world.now)


# -- faults ---------------------------------------------------------------------------------


def test_faults_appear_at_their_configured_rates():
    async def body(sim, api):
        outcomes: Counter[str] = Counter()
        for _ in range(300):
            try:
                status, headers, data = await api.get("/r/aww/new", limit="2")
            except aiohttp.ClientError:
                outcomes["reset"] += 1
                continue
            if status >= 500:
                outcomes["5xx"] += 1
            elif isinstance(data, bytes) and data.startswith(b"<"):
                outcomes["html"] += 1
            elif isinstance(data, bytes):
                outcomes["truncated"] += 1
            else:
                outcomes["ok"] += 1
        # Drawn from a seeded stream: loose bounds around 20% / 10% / 10% (resets may be retried
        # by aiohttp itself, so only check that they happen).
        assert 35 <= outcomes["5xx"] <= 90, outcomes
        assert 12 <= outcomes["html"] <= 50, outcomes
        assert 12 <= outcomes["truncated"] <= 50, outcomes
        assert outcomes["reset"] > 0, outcomes
        assert sim.stats.snapshot()["faults"]["error_5xx"] == outcomes["5xx"]

    faults = FaultConfig(error_5xx_rate=0.2, html_200_rate=0.1, truncated_json_rate=0.1, reset_rate=0.05, seed=1)
    run(with_api(small_config(faults=faults), body))


def test_outage_and_slow_faults_and_runtime_replacement():
    async def body(sim, api):
        status, headers, _ = await api.get("/r/aww/new")
        assert status == 503 and "X-Ratelimit-Used" in headers
        sim.set_faults(FaultConfig(slow_rate=1.0, slow_seconds=0.3))
        started = time.perf_counter()
        assert (await api.get("/r/aww/new"))[0] == 200
        assert time.perf_counter() - started >= 0.3
        sim.set_faults(FaultConfig())
        assert (await api.get("/r/aww/new"))[0] == 200

    run(with_api(small_config(faults=FaultConfig(outages=[(0, 3600)])), body))


def test_asyncpraw_retries_through_transient_5xx():
    async def body():
        # Seed 7 makes the very first API request fail and the retry succeed, so the test
        # waits for asyncprawcore's first back-off only (0-2 s).
        faults = FaultConfig(error_5xx_rate=0.3, seed=7)
        async with running_simulator(small_config(faults=faults)) as sim:
            async with asyncpraw.Reddit(**sim.reddit_kwargs()) as reddit:
                sub = await reddit.subreddit("aww")
                got = [s.id async for s in sub.new(limit=50)]
            assert len(got) == 50
            stats = sim.stats.snapshot()
            assert stats["faults"]["error_5xx"] == 1 and stats["by_family"]["listing"] == 2

    run(body())


# -- control plane and thread runner ----------------------------------------------------------


# urllib honours *_proxy environment variables; the simulator is always local.
_LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http_json(url: str, method: str = "GET", body: bytes | None = None):
    request = urllib.request.Request(url, data=body, method=method)
    with _LOCAL.open(request, timeout=10) as resp:
        return json.loads(resp.read())


def test_simulator_thread_and_control_endpoints():
    with SimulatorThread(small_config()) as sim:
        world = sim.world
        truth = http_json(sim.url + "/_sim/truth/python")
        assert truth["posts"] == world.post_ids("python")
        post = truth["posts"][0]
        assert truth["comments"][post] == world.comment_ids(post)

        now = http_json(sim.url + "/_sim/advance?seconds=86400", "POST")["now"]
        assert now == pytest.approx(world.initial_clock + 86400)
        http_json(sim.url + f"/_sim/delete?id=t3_{post}", "POST")
        faults = http_json(sim.url + "/_sim/faults", "POST", json.dumps({"error_5xx_rate": 0.5}).encode())
        assert faults["error_5xx_rate"] == 0.5
        http_json(sim.url + "/_sim/faults", "POST", b"{}")

        async def fetch():
            async with asyncpraw.Reddit(**sim.reddit_kwargs()) as reddit:
                submission = await reddit.submission(post)
                return submission.author, submission.selftext

        author, selftext = run(fetch())
        assert author is None and selftext in ("[deleted]", "")
        stats = sim.stats()
        assert stats == http_json(sim.url + "/_sim/stats")
        assert stats["by_family"]["token"] == 1 and stats["by_family"]["comments"] == 1
        http_json(sim.url + "/_sim/reset_stats", "POST")
        assert sim.stats()["requests"] == 0
        # World mutations from this thread while the server thread serves are safe.
        world.advance(60)
        assert len(world.post_ids("python")) >= len(truth["posts"])


def test_serve_forever_prints_where_it_listens(capsys):
    from redditlake.simulator import serve_forever

    async def body():
        task = asyncio.create_task(serve_forever(small_config(), port=0))
        for _ in range(100):
            await asyncio.sleep(0.02)
            if "client_secret" in capsys.readouterr().out or task.done():
                break
        else:
            pytest.fail("serve_forever printed nothing")
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task

    run(body())


def test_build_app_exposes_world_and_stats():
    app = build_app(small_config())
    assert isinstance(app["world"], World)
    assert app["stats"].snapshot()["requests"] == 0
