"""The simulated world: subreddits, posts, comment trees, accounts and the content clock.

Everything is a pure function of the seed. Posts of the initial 30 days are built eagerly (cheap
skeletons, no text); posts created after the initial clock come from hourly buckets seeded by
(subreddit, hour), so ``advance`` in one step or many yields the same posts. Comment trees are
built per post on first access, seeded by the post id, with creation times that may lie in the
future: visibility is simply ``created <= now``.

Like Reddit, a post's ``num_comments`` counts every comment made, while its tree hides some:
a deleted, removed or spam-filtered comment with no shown reply is left out of the tree (one
with shown replies stays, as ``[deleted]``/``[removed]``, so its replies keep their parent).
``Thread.shown`` is that set; ``World.comment_ids`` and ``hidden_comment_ids`` tell it to tests.
"""

from __future__ import annotations

import bisect
import math
import random
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime

from . import textgen
from .config import SimulatorConfig
from .ids import IdScheme

INITIAL_CLOCK = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
HISTORY_SECONDS = 30 * 86400
BUCKET_SECONDS = 3600
POST_BASE = int("1a00000", 36)
COMMENT_BASE = int("g000000", 36)
# A comment's id encodes post_number * STRIDE + seq (scrambled when ids are random), so an id
# alone leads to its post. The bit widths keep every id at 7 base-36 digits.
COMMENT_STRIDE = 65536
MAX_COMMENTS_PER_POST = 60_000
POST_ID_BITS, COMMENT_ID_BITS = 30, 35
ACCOUNT_POOL = 300
SUBREDDIT_KINDS = ("public", "private", "banned", "quarantined")
POST_KINDS = (
    ("self", 0.42),
    ("link", 0.20),
    ("image", 0.15),
    ("video", 0.07),
    ("gallery", 0.08),
    ("crosspost", 0.08),
)


@dataclass(slots=True)
class Account:
    name: str
    id: str
    created_utc: float
    suspended: bool
    link_karma: int
    comment_karma: int
    verified: bool
    is_gold: bool
    is_mod: bool
    # A deleted account: its posts and comments stay, credited to "[deleted]".
    deleted: bool = False


@dataclass(slots=True)
class Subreddit:
    name: str
    index: int
    id: str
    kind: str  # public | private | banned | quarantined: who may read it now (``World.set_access``)
    created_utc: float
    subscribers: int
    over18: bool
    # Built public, so it has posts; going private later hides them without deleting them.
    has_content: bool = False
    posts: list[Post] = field(default_factory=list)  # sorted by created
    created_list: list[float] = field(default_factory=list)
    next_bucket: int = 0  # first hourly bucket after INITIAL_CLOCK not generated yet


@dataclass(slots=True)
class Post:
    id: str
    number: int
    subreddit: str
    created: float
    kind: str
    author: str
    base_score: int
    ratio: float
    nsfw: bool
    spoiler: bool
    locked: bool
    stickied: bool
    flair: str | None
    edited_at: float | None
    huge: bool
    removed: bool
    deleted: bool
    crosspost_parent: str | None = None

    @property
    def fullname(self) -> str:
        return "t3_" + self.id


@dataclass(slots=True)
class Comment:
    id: str
    seq: int
    post_id: str
    parent: str | None  # comment id, None for top level
    depth: int
    created: float
    author: str
    base_score: int
    controversial: bool
    edited_at: float | None
    removed: bool
    deleted: bool
    stickied: bool = False
    spam: bool = False  # caught by the spam filter: never shown to an ordinary client

    @property
    def fullname(self) -> str:
        return "t1_" + self.id

    @property
    def gone(self) -> bool:
        return self.deleted or self.removed or self.spam

    @property
    def parent_fullname(self) -> str:
        return "t1_" + self.parent if self.parent else "t3_" + self.post_id


@dataclass(slots=True)
class Thread:
    """All comments a post will ever get, in creation order; the clock decides what is visible."""

    post: Post
    comments: list[Comment]
    by_id: dict[str, Comment]
    children: dict[str | None, list[str]]  # parent id (None = post) -> child ids, creation order
    created: list[float]

    def visible_count(self, now: float) -> int:
        """Comments made by ``now``: the post's ``num_comments``, hidden ones included."""
        return bisect.bisect_right(self.created, now)

    def shown(self, now: float) -> list[Comment]:
        """The comments a tree shows at ``now``, in creation order: a gone comment only while
        some reply of it is shown."""
        made = self.comments[: self.visible_count(now)]
        with_shown_reply: set[str | None] = set()
        shown: set[str] = set()
        for comment in reversed(made):  # replies come after their parent
            if not comment.gone or comment.id in with_shown_reply:
                shown.add(comment.id)
                with_shown_reply.add(comment.parent)
        return [c for c in made if c.id in shown]


class World:
    """Deterministic content built from the config's seed; the ground truth for tests.

    All public methods take ``lock`` so a test thread may call them while the server thread
    serves requests; request handlers hold the same lock while they read.
    """

    def __init__(self, config: SimulatorConfig) -> None:
        self.config = config
        self.lock = threading.RLock()
        self.initial_clock = INITIAL_CLOCK
        self.version = 0  # bumped on every mutation; caches key on it
        self._offset = 0.0
        self._started = time.monotonic()
        self._posts_by_id: dict[str, Post] = {}
        self._posts_by_number: dict[int, Post] = {}
        self._all_posts: list[Post] = []  # generation order; crosspost parents come from here
        self._threads: dict[str, Thread] = {}
        self.post_ids_scheme = IdScheme(POST_BASE, POST_ID_BITS, random=config.random_ids == "all",
                                        seed=config.seed, label="posts")
        self.comment_ids_scheme = IdScheme(COMMENT_BASE, COMMENT_ID_BITS, random=config.random_ids != "none",
                                           seed=config.seed, label="comments")
        # Fullnames /api/info leaves out of its answers (a short 200 answer), see ``drop_from_info``.
        self.info_dropped: set[str] = set()
        self.accounts = self._build_accounts()
        self.accounts_by_name = {a.name: a for a in self.accounts}
        self.subreddits: dict[str, Subreddit] = {}
        self._build_subreddits()
        for sub in self.content_subreddits():
            self._build_initial_posts(sub)

    # -- public API ---------------------------------------------------------------------

    @property
    def now(self) -> float:
        """The content clock (epoch seconds)."""
        drift = self.config.clock_speed * (time.monotonic() - self._started)
        return self.initial_clock + self._offset + drift

    def advance(self, seconds: float) -> None:
        """Move the content clock forward: new posts and comments appear, scores drift."""
        if seconds < 0:
            raise ValueError("the content clock only moves forward")
        with self.lock:
            self._offset += seconds
            self.version += 1

    def post_ids(self, subreddit: str) -> list[str]:
        """Ids of all currently visible posts of a subreddit, oldest first."""
        with self.lock:
            sub = self._content_sub(subreddit)
            return [p.id for p in self.visible_posts(sub)]

    def comment_ids(self, post_id: str) -> list[str]:
        """Ids of the comments the post's tree shows now (what a complete fetch gets), oldest first."""
        with self.lock:
            thread = self.thread(self._require_post(post_id))
            return [c.id for c in thread.shown(self.now)]

    def hidden_comment_ids(self, post_id: str) -> list[str]:
        """Ids of comments counted in the post's ``num_comments`` that its tree does not show."""
        with self.lock:
            thread = self.thread(self._require_post(post_id))
            now = self.now
            shown = {c.id for c in thread.shown(now)}
            return [c.id for c in thread.comments[: thread.visible_count(now)] if c.id not in shown]

    def delete(self, fullname: str) -> None:
        """Mark a post (t3_) or comment (t1_) as deleted by its author, or delete an account (t2_):
        its posts and comments stay, credited to ``[deleted]``."""
        with self.lock:
            kind, _, ident = fullname.partition("_")
            if kind == "t2":
                account = next((a for a in self.accounts if a.id == ident), None)
                if account is None:
                    raise KeyError(fullname)
                account.deleted = True
            elif kind == "t3":
                self._require_post(ident).deleted = True
            elif kind == "t1":
                comment = self.comment(ident)
                if comment is None:
                    raise KeyError(fullname)
                comment.deleted = True
            else:
                raise ValueError(f"can only delete t1_/t2_/t3_ things, got {fullname!r}")
            self.version += 1

    def set_access(self, subreddit: str, kind: str) -> None:
        """Switch a subreddit public, private, banned or quarantined, as moderators and admins do.

        Its posts and comments stay in the world; every route answers for them the way Reddit
        does for that kind (listings and ``about`` refuse, ``/api/info`` leaves them out).
        """
        if kind not in SUBREDDIT_KINDS:
            raise ValueError(f"kind must be one of {', '.join(SUBREDDIT_KINDS)}, got {kind!r}")
        with self.lock:
            self._content_sub(subreddit).kind = kind
            self.version += 1

    def drop_from_info(self, fullnames: list[str]) -> None:
        """Make ``/api/info`` leave these things out of its answers (replaces the previous set)."""
        with self.lock:
            self.info_dropped = {f.strip().lower() for f in fullnames if f.strip()}
            self.version += 1

    def readable(self, subreddit: str) -> bool:
        """Would Reddit show this subreddit's things to an ordinary API client now?"""
        sub = self.subreddit(subreddit)
        return sub is not None and sub.kind == "public"

    # -- lookups used by the server (the handlers hold ``lock`` around a whole answer) ----

    def content_subreddits(self) -> list[Subreddit]:
        return [s for s in self.subreddits.values() if s.has_content]

    def subreddit(self, name: str) -> Subreddit | None:
        return self.subreddits.get(name.lower())

    def subreddit_by_id(self, sub_id: str) -> Subreddit | None:
        return next((s for s in self.subreddits.values() if s.id == sub_id), None)

    def visible_posts(self, sub: Subreddit) -> list[Post]:
        with self.lock:
            now = self.now
            self._generate_until(sub, now)
            return sub.posts[: bisect.bisect_right(sub.created_list, now)]

    def post(self, post_id: str) -> Post | None:
        """A visible post by id (generating future buckets as far as the clock has moved)."""
        with self.lock:
            now = self._generate_all()
            post = self._posts_by_id.get(post_id.lower())
            return post if post is not None and post.created <= now else None

    def thread(self, post: Post) -> Thread:
        """All comments the post will ever have; built on first use."""
        with self.lock:
            thread = self._threads.get(post.id)
            if thread is None:
                thread = self._threads[post.id] = self._build_thread(post)
            return thread

    def comment(self, comment_id: str) -> Comment | None:
        """A visible comment by id; the id encodes its post's number."""
        value = self.comment_ids_scheme.number(comment_id.lower())
        if value is None:
            return None
        number, _ = divmod(value, COMMENT_STRIDE)
        with self.lock:
            now = self._generate_all()
            post = self._posts_by_number.get(number)
            if post is None or post.created > now:
                return None
            comment = self.thread(post).by_id.get(comment_id.lower())
            return comment if comment is not None and comment.created <= now else None

    def account(self, name: str) -> Account | None:
        return self.accounts_by_name.get(name)

    # -- construction -------------------------------------------------------------------

    def _rng(self, *parts: object) -> random.Random:
        return random.Random(":".join(str(p) for p in (self.config.seed, *parts)))

    def _content_sub(self, name: str) -> Subreddit:
        sub = self.subreddit(name)
        if sub is None:
            raise KeyError(name)
        return sub

    def _require_post(self, post_id: str) -> Post:
        post = self.post(post_id)
        if post is None:
            raise KeyError(post_id)
        return post

    def _build_accounts(self) -> list[Account]:
        rng = self._rng("accounts")
        accounts: list[Account] = []
        seen: set[str] = {"[deleted]", "AutoModerator"}
        while len(accounts) < ACCOUNT_POOL:
            name = textgen.username(rng)
            if name in seen or len(name) < 3:
                continue
            seen.add(name)
            accounts.append(
                Account(
                    name=name,
                    id=textgen.to_base36(int("a0000", 36) + len(accounts) * 7717 + rng.randint(0, 7000)),
                    created_utc=float(int(INITIAL_CLOCK - rng.uniform(30, 3650) * 86400)),
                    suspended=rng.random() < 0.03,
                    link_karma=int(rng.paretovariate(1.2) * 50),
                    comment_karma=int(rng.paretovariate(1.1) * 100),
                    verified=rng.random() < 0.8,
                    is_gold=rng.random() < 0.05,
                    is_mod=rng.random() < 0.1,
                    deleted=rng.random() < 0.03,
                )
            )
        accounts.append(
            Account("AutoModerator", "6l4z3", 1325741068.0, False, 1000, 445_000, True, False, True)
        )
        return accounts

    def _build_subreddits(self) -> None:
        cfg = self.config
        groups = (
            ("public", cfg.subreddits),
            ("private", cfg.private),
            ("banned", cfg.banned),
            ("quarantined", cfg.quarantined),
        )
        for kind, names in groups:
            for name in names:
                if name.lower() in self.subreddits:
                    continue
                index = len(self.subreddits)
                rng = self._rng("sub", name.lower())
                self.subreddits[name.lower()] = Subreddit(
                    name=name,
                    index=index,
                    id=textgen.to_base36(int("2qh0a", 36) + index * 1337),
                    kind=kind,
                    created_utc=float(int(INITIAL_CLOCK - rng.uniform(1, 15) * 365 * 86400)),
                    subscribers=int(rng.paretovariate(0.8) * 5000),
                    over18=kind == "quarantined",
                    has_content=kind == "public",
                )

    def _pick_author(self, rng: random.Random) -> str:
        # Squaring skews towards the front of the pool: a few prolific authors, a long tail.
        return self.accounts[int((len(self.accounts) - 1) * rng.random() ** 2)].name

    def _new_post(self, sub: Subreddit, rng: random.Random, created: float, number: int) -> Post:
        kind = rng.choices([k for k, _ in POST_KINDS], [w for _, w in POST_KINDS])[0]
        crosspost_parent = None
        if kind == "crosspost":
            crosspost_parent = self._crosspost_parent(rng, created)
            if crosspost_parent is None:
                kind = "link"
        if rng.random() < 0.05:
            base_score = -rng.randint(1, 40)
        else:
            base_score = min(80_000, int(rng.paretovariate(1.05)) - 1)
        ratio = round(rng.uniform(0.15, 0.49) if base_score < 0 else rng.uniform(0.55, 1.0), 2)
        post = Post(
            id=self.post_ids_scheme.id(number),
            number=number,
            subreddit=sub.name,
            created=round(created, 0),
            kind=kind,
            author=self._pick_author(rng),
            base_score=base_score,
            ratio=ratio,
            nsfw=rng.random() < 0.05,
            spoiler=rng.random() < 0.02,
            locked=rng.random() < 0.02,
            stickied=False,
            flair=rng.choice(textgen.FLAIRS),
            edited_at=created + rng.uniform(60, 2 * 86400) if rng.random() < 0.08 else None,
            huge=kind == "self" and rng.random() < 0.006,
            removed=rng.random() < 0.02,
            deleted=rng.random() < 0.02,
            crosspost_parent=crosspost_parent,
        )
        self._posts_by_id[post.id] = post
        self._posts_by_number[number] = post
        self._all_posts.append(post)
        return post

    def _crosspost_parent(self, rng: random.Random, created: float) -> str | None:
        for _ in range(5):
            if not self._all_posts:
                return None
            parent = rng.choice(self._all_posts)
            if parent.kind != "crosspost" and parent.created < created:
                return parent.id
        return None

    def _number(self, sub: Subreddit, seq: int) -> int:
        return seq * len(self.subreddits) + sub.index

    def _build_initial_posts(self, sub: Subreddit) -> None:
        rng = self._rng("posts", sub.name.lower())
        n = self.config.posts_per_subreddit
        times = sorted(INITIAL_CLOCK - rng.random() * HISTORY_SECONDS for _ in range(n))
        for seq, created in enumerate(times):
            sub.posts.append(self._new_post(sub, rng, created, self._number(sub, seq)))
        # 1-2 stickied posts per subreddit, like weekly threads and rules posts.
        stickies = min(len(sub.posts), 1 + sub.index % 2)
        for post in rng.sample(sub.posts, stickies):
            post.stickied = True
            post.kind = "self"
            post.crosspost_parent = None
            post.deleted = post.removed = False
            post.base_score = abs(post.base_score) + 10
            post.ratio = max(post.ratio, 0.9)
        sub.created_list = [p.created for p in sub.posts]

    def _generate_all(self) -> float:
        now = self.now
        for sub in self.content_subreddits():
            self._generate_until(sub, now)
        return now

    def _generate_until(self, sub: Subreddit, now: float) -> None:
        """Create the posts of every hourly bucket that has started by ``now``."""
        if not sub.has_content:
            return
        rate = self.config.posts_per_subreddit / (HISTORY_SECONDS / BUCKET_SECONDS)
        while INITIAL_CLOCK + sub.next_bucket * BUCKET_SECONDS <= now:
            bucket = sub.next_bucket
            rng = self._rng("bucket", sub.name.lower(), bucket)
            start = INITIAL_CLOCK + bucket * BUCKET_SECONDS
            times = sorted(start + rng.random() * BUCKET_SECONDS for _ in range(_poisson(rng, rate)))
            for created in times:
                number = self._number(sub, len(sub.posts))
                sub.posts.append(self._new_post(sub, rng, created, number))
                sub.created_list.append(sub.posts[-1].created)
            sub.next_bucket += 1

    def _build_thread(self, post: Post) -> Thread:
        # Seeded by the post's sequential id, not the one issued: random ids leave every thread as it was.
        seed = textgen.to_base36(POST_BASE + post.number)
        rng = self._rng("thread", seed)
        mean = self.config.comments_per_post_mean
        if mean <= 0 or rng.random() < 0.08:
            total = 0
        else:
            # Log-normal with sigma 1.5: median ~ mean/3, a few percent of posts get hundreds.
            sigma = 1.5
            total = int(rng.lognormvariate(math.log(mean) - sigma * sigma / 2, sigma))
        # A separate stream, so that turning big threads on leaves every other thread as it was.
        big = self._rng("big", seed)
        spam = self._rng("spam", seed)  # its own stream too: the spam rate leaves the rest as it was
        if self.config.big_thread_share and big.random() < self.config.big_thread_share:
            total = big.randint(*self.config.big_thread_comments)
        if post.stickied:
            total = max(total, 5)
        total = min(total, MAX_COMMENTS_PER_POST)
        offsets = []
        for _ in range(total):
            roll = rng.random()
            if roll < 0.7:
                offsets.append(rng.expovariate(1 / 7200))
            elif roll < 0.95:
                offsets.append(rng.expovariate(1 / 43200))
            else:
                offsets.append(rng.uniform(0, 20 * 86400))
        times = sorted(round(post.created + 30 + off, 0) for off in offsets)

        comments: list[Comment] = []
        by_id: dict[str, Comment] = {}
        children: dict[str | None, list[str]] = {None: []}
        chain_tip: Comment | None = None
        # Every comment enters once, plus once per reply it gets: picking from this list is
        # preferential attachment, so popular comments draw long reply lists as on Reddit.
        targets: list[Comment] = []
        for seq, created in enumerate(times):
            roll = rng.random()
            parent: Comment | None
            if not comments or roll < 0.25:
                parent = None
            elif roll < 0.45:
                # Back-and-forth arguments: keep replying to the newest comment of one chain,
                # which is what makes threads deeper than 10 levels.
                parent = chain_tip or rng.choice(targets)
            else:
                parent = rng.choice(targets)
            comment = Comment(
                id=self.comment_ids_scheme.id(post.number * COMMENT_STRIDE + seq),
                seq=seq,
                post_id=post.id,
                parent=parent.id if parent else None,
                depth=parent.depth + 1 if parent else 0,
                created=created,
                author=post.author if rng.random() < 0.05 else self._pick_author(rng),
                base_score=-rng.randint(1, 30) if rng.random() < 0.07 else int(rng.paretovariate(1.2)),
                controversial=rng.random() < 0.05,
                edited_at=created + rng.uniform(30, 86400) if rng.random() < 0.06 else None,
                removed=rng.random() < self.config.comment_removed_rate,
                deleted=rng.random() < self.config.comment_deleted_rate,
                spam=spam.random() < self.config.comment_spam_rate,
            )
            comments.append(comment)
            targets.append(comment)
            if parent is not None:
                targets.append(parent)
            by_id[comment.id] = comment
            children.setdefault(comment.parent, []).append(comment.id)
            if 0.25 <= roll < 0.45:
                chain_tip = None if rng.random() < 0.08 else comment
        if post.stickied and comments:
            first_top = by_id[children[None][0]]
            first_top.stickied = True
            first_top.author = "AutoModerator"
            first_top.deleted = first_top.removed = first_top.spam = False
        return Thread(post, comments, by_id, children, [c.created for c in comments])


def _poisson(rng: random.Random, lam: float) -> int:
    # Knuth's method: fine for the small per-hour rates used here.
    limit, k, p = math.exp(-lam), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1
