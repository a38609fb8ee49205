"""Cut comment trees the way Reddit does, so clients must page through ``more`` stubs.

Rules (shared by /comments, the focused /comments/{post}/_/{comment} view and morechildren):

* at most ``limit`` comments in total, taken depth-first in the requested sort order;
* a reply list shows at most ``width(d)`` children, d counted from where the answer starts:
  unlimited at the top, 6 below it, then 3, then 2 at every deeper level (tuned so that trees
  of 50+ comments yield several small stubs, as on Reddit);
* a morechildren answer handles the first 100 ids (the rest come back as one stub) and holds
  at most 100 comments, the requested ones and their expanded replies together, filled in
  tree order: requested ids that do not fit come back unexpanded, in one new ``more`` stub
  under the post, as Reddit does (seen live: 100 ids asked, 49 came back as comments with
  their replies, the other 51 inside a new ``more`` under the post);
* comments the fault injector marks unexpandable are always handed back that way, and their
  focused view shows only a "continue this thread" pointing back at themselves;
* the hidden tail of a reply list becomes one ``more`` stub listing the hidden siblings' ids,
  with ``count`` = hidden comments including their descendants;
* what Reddit hides is never shown nor listed in a stub (``Thread.shown``): a gone comment
  without shown replies, though the post's ``num_comments`` counts it;
* a comment ``max_depth - 1`` levels down whose replies are cut gets a "continue this thread"
  stub (count 0, id "_"), which clients resolve through the focused view.

Every comment is therefore shown once or reachable through a stub (a handed-back id through
its new stub), which is what lets repeated expansion reach each comment exactly once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from . import things
from .content import Comment, Post, Thread, World
from .ranking import comment_sort_key

MAX_DEPTH = 10
DEFAULT_LIMIT = 200
MAX_LIMIT = 500
LEVEL_WIDTH = {1: 6, 2: 3}
DEEP_WIDTH = 2
MORECHILDREN_MAX_IDS = 100
# Comments per morechildren answer, requested ones and their replies together (stubs come on
# top), which keeps an answer at roughly 100-200 things like Reddit's.
MORECHILDREN_COMMENTS = 100


def width(rel_depth: int) -> int | None:
    if rel_depth == 0:
        return None
    return LEVEL_WIDTH.get(rel_depth, DEEP_WIDTH)


class TreeView:
    """A thread as visible at one clock instant: sorted reply lists and subtree sizes."""

    def __init__(self, thread: Thread, now: float, sort: str) -> None:
        visible = thread.shown(now)
        key = comment_sort_key(sort, now)
        self.thread = thread
        self.by_id = {c.id: c for c in visible}
        self.children: dict[str | None, list[Comment]] = {}
        for comment in visible:
            self.children.setdefault(comment.parent, []).append(comment)
        for replies in self.children.values():
            replies.sort(key=key, reverse=True)
        # Replies are always created after their parent, so one backwards pass sums subtrees.
        self.size = {c.id: 1 for c in visible}
        for comment in reversed(visible):
            if comment.parent is not None:
                self.size[comment.parent] += self.size[comment.id]
        self.preorder: dict[str, int] = {}
        stack = list(reversed(self.children.get(None, [])))
        while stack:
            comment = stack.pop()
            self.preorder[comment.id] = len(self.preorder)
            stack.extend(reversed(self.children.get(comment.id, [])))

    def replies(self, comment: Comment, exclude: set[str] | frozenset[str] = frozenset()) -> list[Comment]:
        kids = self.children.get(comment.id, [])
        return [k for k in kids if k.id not in exclude] if exclude else kids

    def hidden_count(self, comments: list[Comment]) -> int:
        return sum(self.size[c.id] for c in comments)


@dataclass
class _Cut:
    world: World
    post: Post
    view: TreeView
    now: float
    budget: int
    max_depth: int

    def stub(self, rest: list[Comment], parent_fullname: str) -> dict:
        return things.more([c.id for c in rest], self.view.hidden_count(rest), parent_fullname, rest[0].depth)

    def t1(self, comment: Comment, replies: dict | str) -> dict:
        return {"kind": "t1", "data": things.comment_data(self.world, comment, self.post, self.now, replies)}

    # Nested rendering for /comments answers.
    def nested(self, comments: list[Comment], parent_fullname: str, rel_depth: int) -> list[dict]:
        out: list[dict] = []
        limit = width(rel_depth)
        for i, comment in enumerate(comments):
            if self.budget <= 0 or (limit is not None and i >= limit):
                out.append(self.stub(comments[i:], parent_fullname))
                break
            self.budget -= 1
            kids = self.view.replies(comment)
            replies: dict | str = ""
            if kids and rel_depth + 1 >= self.max_depth:
                replies = things.comment_listing([things.continue_thread(comment.fullname, comment.depth + 1)])
            elif kids:
                replies = things.comment_listing(self.nested(kids, comment.fullname, rel_depth + 1))
            out.append(self.t1(comment, replies))
        return out

    # Flat rendering for morechildren answers: parents always precede their replies.
    def flat(self, comments: list[Comment], parent_fullname: str, rel_depth: int, exclude: set[str],
             out: list[dict]) -> None:
        limit = width(rel_depth)
        for i, comment in enumerate(comments):
            if self.budget <= 0 or (limit is not None and i >= limit):
                out.append(self.stub(comments[i:], parent_fullname))
                return
            self.budget -= 1
            out.append(self.t1(comment, ""))
            self.flat_replies(comment, rel_depth, exclude, out)

    def flat_replies(self, comment: Comment, rel_depth: int, exclude: set[str], out: list[dict]) -> None:
        kids = self.view.replies(comment, exclude)
        if not kids:
            return
        if rel_depth + 1 >= self.max_depth:
            out.append(things.continue_thread(comment.fullname, comment.depth + 1))
        else:
            self.flat(kids, comment.fullname, rel_depth + 1, exclude, out)


class TreeCutter:
    """Entry points used by the server; callers hold ``world.lock``."""

    def __init__(self, world: World, unexpandable: Callable[[str], bool] = lambda _id: False) -> None:
        self.world = world
        self.unexpandable = unexpandable
        self._views: dict[tuple, TreeView] = {}

    def view(self, post: Post, sort: str, now: float) -> TreeView:
        key = (post.id, sort, now, self.world.version)
        view = self._views.get(key)
        if view is None:
            if len(self._views) > 64:
                self._views.clear()
            view = self._views[key] = TreeView(self.world.thread(post), now, sort)
        return view

    def comments(self, post: Post, *, sort: str, limit: int, depth: int | None,
                 focus: Comment | None = None) -> list[dict]:
        """The comment listing's children for /comments (whole tree, or one comment's subtree)."""
        now = self.world.now
        view = self.view(post, sort, now)
        # A focused view must show at least the focus's replies, or "continue this thread"
        # would point back at itself forever.
        floor = 2 if focus is not None else 1
        max_depth = _max_depth(depth, floor)
        if focus is not None and focus.id not in view.by_id:
            return []  # a hidden comment: nothing to show under it
        if focus is not None and self.unexpandable(focus.id):
            max_depth = 1  # the injected fault: "continue this thread" back at itself
        cut = _Cut(self.world, post, view, now, budget=limit, max_depth=max_depth)
        if focus is not None:
            return cut.nested([view.by_id[focus.id]], focus.parent_fullname, 0)
        return cut.nested(view.children.get(None, []), post.fullname, 0)

    def morechildren(self, post: Post, ids: list[str], *, sort: str, depth: int | None,
                     limit_children: bool) -> list[dict]:
        """The flat ``things`` of a morechildren answer."""
        now = self.world.now
        view = self.view(post, sort, now)
        unique = list(dict.fromkeys(i.strip().lower() for i in ids if i.strip()))
        head = [view.by_id[i] for i in unique[:MORECHILDREN_MAX_IDS] if i in view.by_id]
        rest = [view.by_id[i] for i in unique[MORECHILDREN_MAX_IDS:] if i in view.by_id]
        cut = _Cut(self.world, post, view, now, budget=MORECHILDREN_COMMENTS, max_depth=_max_depth(depth, 2))
        head.sort(key=lambda c: view.preorder[c.id])
        requested = {c.id for c in head}
        out: list[dict] = []
        handed_back: list[Comment] = []
        for comment in head:
            if cut.budget <= 0 or self.unexpandable(comment.id):
                handed_back.append(comment)
                continue
            cut.budget -= 1
            out.append(cut.t1(comment, ""))
            if limit_children:
                kids = view.replies(comment, requested)
                if kids:
                    out.append(cut.stub(kids, comment.fullname))
            else:
                cut.flat_replies(comment, 0, requested, out)
        if handed_back or rest:
            # What did not fit (and ids past the first 100) comes back in one stub under the post.
            back = handed_back + rest
            out.append(things.more([c.id for c in back], view.hidden_count(back), post.fullname, 0))
        return out


def _max_depth(depth: int | None, floor: int) -> int:
    if depth is None or depth <= 0:
        return MAX_DEPTH
    return max(floor, min(depth, MAX_DEPTH))
