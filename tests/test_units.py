"""Units that need no server: JSON → rows, tree bookkeeping, request records, pseudonyms."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow as pa
import pytest

from redditlake.collection import StreamSchedule, SubredditStrategy
from redditlake.errors import InvalidSubredditName
from redditlake.lake.names import subreddit_partition
from redditlake.models import Comment, Post, Subreddit
from redditlake.privacy import Pseudonymiser
from redditlake.reddit.comments import CommentTree
from redditlake.reddit.requestlog import endpoint_family, new_record
from redditlake.subreddit_names import validate_subreddit

NOW = datetime(2026, 11, 1, tzinfo=UTC)


def t1(cid, parent, replies=None, depth=None, body="x"):
    data = {"id": cid, "name": f"t1_{cid}", "parent_id": parent, "link_id": "t3_p", "subreddit": "s",
            "created_utc": 1.7e9, "body": body, "author": "a", "score": 1, "replies": replies or ""}
    if depth is not None:
        data["depth"] = depth
    return {"kind": "t1", "data": data}


def listing(*children):
    return {"kind": "Listing", "data": {"children": list(children)}}


def more(ids, parent, count=None):
    return {"kind": "more", "data": {"id": ids[0] if ids else "_", "children": ids, "parent_id": parent,
                                     "count": len(ids) if count is None else count}}


def test_a_post_keeps_reddits_names_and_types_and_every_character():
    text = "emoji 🎉, RTL مرحبا, CJK 日本語, zero-width a\u200bb\u200d, <&> " + "x" * 40_000
    row = Post.from_api(
        {"id": "abc", "subreddit": "Python", "title": "t", "selftext": text, "created_utc": 1700000000.5,
         "edited": 1700000100.0, "score": -7, "num_comments": 3, "is_gallery": True,
         "gallery_data": {"items": [{}, {}]}, "media": {"oembed": {"a": 1}}},
        NOW,
    )
    table = Post.to_arrow([row])
    assert table.schema == Post.arrow_schema()
    r = table.to_pylist()[0]
    assert r["selftext"] == text and r["score"] == -7 and r["gallery_items"] == 2
    assert r["created_utc"] == datetime(2023, 11, 14, 22, 13, 20, 500000, tzinfo=UTC)
    assert r["edited_utc"] is not None and r["media"] == '{"oembed": {"a": 1}}'
    assert table.schema.field("created_utc").type == pa.timestamp("us", tz="UTC")


def test_never_edited_and_missing_optional_fields_are_null():
    row = Comment.from_api(
        {"id": "c", "subreddit": "s", "link_id": "t3_p", "parent_id": "t3_p", "created_utc": 1.7e9,
         "edited": False, "author": "[deleted]", "body": "[deleted]"},
        NOW,
    )
    assert row.edited_utc is None and row.depth is None and row.author_fullname is None  # the landing derives it
    assert Subreddit.arrow_schema().names[:3] == ["id", "created_utc", "collected_at"]


def test_the_tree_keeps_each_comment_once_and_collects_stub_ids():
    tree = CommentTree()
    tree.add_things([
        t1("a", "t3_p", listing(t1("b", "t1_a", listing(more(["c", "d"], "t1_b"))))),
        more(["e", "f", "g"], "t3_p"),
        t1("a", "t3_p"),  # seen twice: kept once
    ])
    assert set(tree.comments) == {"a", "b"}
    assert sorted(tree.pending) == ["c", "d", "e", "f", "g"]
    batch = tree.next_batch()
    assert sorted(batch) == ["c", "d", "e", "f", "g"] and tree.next_batch() == []


def test_continue_this_thread_stubs_are_followed_by_parent():
    tree = CommentTree()
    tree.add_things([t1("a", "t3_p", listing(more([], "t1_a", count=0)))])
    assert list(tree.continue_parents) == ["a"] and not tree.pending


def test_ids_handed_back_are_asked_again_and_given_up_only_after_calls_without_progress():
    tree = CommentTree(max_misses=2)
    tree.add_things([more(["a", "b", "c"], "t3_p")])
    batch = tree.next_batch()
    assert batch == ["a", "b", "c"] and not tree.pending
    # "a" arrives, "b" and "c" come back in a new stub under the post: crowded out, asked again.
    tree.add_things([t1("a", "t3_p"), more(["b", "c"], "t3_p")])
    tree.settle(batch)
    assert list(tree.pending) == ["b", "c"] and not tree.unexpandable
    batch = tree.next_batch()
    tree.add_things([t1("b", "t3_p")])  # "c" not even handed back: still asked again
    tree.settle(batch)
    assert list(tree.pending) == ["c"]
    for _ in range(2):  # two calls in a row that deliver nothing asked
        batch = tree.next_batch()
        tree.add_things([more(["c"], "t3_p")])
        tree.settle(batch)
    assert tree.unexpandable == {"c"} and not tree.pending and tree.next_batch() == []
    tree.add_things([more(["c"], "t3_p")])  # given up for good
    assert not tree.pending


def test_continue_parents_showing_no_reply_are_given_up():
    tree = CommentTree(max_misses=2)
    tree.add_things([t1("a", "t3_p", listing(more([], "t1_a", count=0)))])
    for _ in range(2):
        parent = next(iter(tree.continue_parents))
        del tree.continue_parents[parent]
        tree.add_things([t1("a", "t3_p", listing(more([], "t1_a", count=0)))])  # points back at itself
        tree.settle_parent(parent)
    assert tree.unexpandable_parents == {"a"} and not tree.continue_parents


def test_depth_comes_from_the_parent_chain_not_from_relative_depth_fields():
    tree = CommentTree()
    # As a "continue this thread" answer gives them: depth restarts at 0 under the focus.
    tree.add_things([t1("a", "t3_p", depth=0), t1("b", "t1_a", depth=1), t1("c", "t1_b", depth=0), t1("d", "t1_c", depth=1)])
    assert {r["id"]: r["depth"] for r in tree.rows()} == {"a": 0, "b": 1, "c": 2, "d": 3}


def test_request_records_name_the_endpoint_but_never_an_account():
    assert endpoint_family("http://h/r/python/new") == "listing"
    assert endpoint_family("http://h/api/morechildren/") == "morechildren"
    assert endpoint_family("http://h/comments/abc/_/def") == "comments"
    record = new_record("get", "http://h/user/SomeName/about?raw_json=1", 1)
    assert record.path == "/user/*/about" and record.endpoint == "user" and "SomeName" not in repr(record)
    assert new_record("GET", "http://h/r/Python/about", 1).subreddit == "python"


def test_pseudonyms_are_keyed_stable_and_case_blind():
    a, b = Pseudonymiser("k1"), Pseudonymiser("k2")
    assert a.pseudonym("Alice") == a.pseudonym("alice") != b.pseudonym("alice")
    assert a.pseudonym("[deleted]") == "[deleted]" and a.pseudonym(None) is None
    table = pa.table({"author": ["Alice", "[deleted]"], "author_fullname": ["t2_x", None], "body": ["Alice", "b"]})
    out = a.table(table).to_pydict()
    assert out["author"] == [a.pseudonym("Alice"), "[deleted]"]
    assert out["author_fullname"][0].startswith("t2_") and out["author_fullname"][1] is None
    assert out["body"] == ["Alice", "b"]  # text is data, not identity: left alone


def _accepts(check) -> bool:
    try:
        check()
    except (ValueError, InvalidSubredditName):  # pydantic's ValidationError is a ValueError
        return False
    return True


@pytest.mark.parametrize(
    "name", ["python", "AskReddit", "de", "_underscored", "a" * 21, "x", "a" * 22, "../etc", "a/b", "py thon", "pythön", "py\nthon"]
)
def test_a_subreddit_name_is_judged_by_one_rule_where_typed_where_configured_and_where_the_lake_writes_it(name):
    accepted_by = {
        "the CLI and flows": _accepts(lambda: validate_subreddit(name)),
        "the lake": _accepts(lambda: subreddit_partition(name)),
        "collection.yaml subreddits": _accepts(lambda: SubredditStrategy(name=name)),
        "collection.yaml stream": _accepts(lambda: StreamSchedule(subreddits=[name])),
    }
    assert len(set(accepted_by.values())) == 1, accepted_by
