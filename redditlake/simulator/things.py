"""Render world objects as Reddit's JSON things (t1, t2, t3, t5, more, Listing).

Field names and shapes follow recorded Reddit responses (raw_json=1: text is not HTML-escaped;
only the ``*_html`` fields carry markup). Text is regenerated from the thing's id on every render,
which is cheap and keeps memory flat.
"""

from __future__ import annotations

import functools
import html
import random
from typing import Any

from . import ranking, textgen
from .config import ABSENT
from .content import Account, Comment, Post, Subreddit, World

DELETED = "[deleted]"
REMOVED = "[removed]"


def listing(children: list[dict], *, after: str | None = None, before: str | None = None) -> dict:
    return {
        "kind": "Listing",
        "data": {
            "after": after,
            "dist": len(children),
            "modhash": "",
            "geo_filter": "",
            "children": children,
            "before": before,
        },
    }


def comment_listing(children: list[dict]) -> dict:
    # Comment trees carry dist null in real responses.
    out = listing(children)
    out["data"]["dist"] = None
    return out


def _md_html(text: str) -> str:
    paragraphs = "".join(f"<p>{html.escape(p, quote=False)}</p>\n" for p in text.split("\n\n") if p)
    return f'<div class="md">{paragraphs}</div>'


@functools.lru_cache(maxsize=8192)
def _title(seed: int, post_id: str) -> str:
    # Cached: every comment's permalink needs its post's title slug.
    return textgen.title(random.Random(f"{seed}:post:{post_id}"))


def post_title(world: World, post: Post) -> str:
    if post.stickied:
        return f"Weekly discussion thread — r/{post.subreddit} ({post.id})"
    return _title(world.config.seed, post.id)


def permalink(world: World, post: Post) -> str:
    return f"/r/{post.subreddit}/comments/{post.id}/{textgen.slug(post_title(world, post))}/"


def _media_fields(world: World, post: Post, rng: random.Random) -> dict[str, Any]:
    token = textgen.to_base36(rng.getrandbits(60))[:13]
    fields: dict[str, Any] = {
        "is_video": False,
        "media": None,
        "secure_media": None,
        "media_embed": {},
        "secure_media_embed": {},
        "preview": None,
        "thumbnail": "self" if post.kind == "self" else f"https://b.thumbs.redditmedia.com/{token}.jpg",
        "thumbnail_width": None if post.kind == "self" else 140,
        "thumbnail_height": None if post.kind == "self" else 105,
    }
    if post.nsfw and post.kind != "self":
        fields["thumbnail"] = "nsfw"
    if post.kind == "self":
        fields["domain"] = f"self.{post.subreddit}"
        fields["url"] = "https://www.reddit.com" + permalink(world, post)
    elif post.kind == "link":
        domain = rng.choice(textgen.LINK_DOMAINS)
        fields.update(domain=domain, url=f"https://{domain}/{textgen.words(rng, 3).replace(' ', '-')}?a=1&b=2",
                      post_hint="link")
    elif post.kind == "image":
        source = {"url": f"https://preview.redd.it/{token}.jpg?auto=webp&s={token}", "width": 1080, "height": 1350}
        fields.update(
            domain="i.redd.it",
            url=f"https://i.redd.it/{token}.jpg",
            post_hint="image",
            preview={"images": [{"source": source, "resolutions": [], "variants": {}, "id": token}],
                     "enabled": True},
        )
    elif post.kind == "video":
        video = {
            "bitrate_kbps": 2400,
            "fallback_url": f"https://v.redd.it/{token}/DASH_720.mp4?source=fallback",
            "has_audio": True,
            "height": 720,
            "width": 1280,
            "scrubber_media_url": f"https://v.redd.it/{token}/DASH_96.mp4",
            "dash_url": f"https://v.redd.it/{token}/DASHPlaylist.mpd?a=1",
            "duration": rng.randint(3, 600),
            "hls_url": f"https://v.redd.it/{token}/HLSPlaylist.m3u8?a=1",
            "is_gif": False,
            "transcoding_status": "completed",
        }
        fields.update(domain="v.redd.it", url=f"https://v.redd.it/{token}", post_hint="hosted:video",
                      is_video=True, media={"reddit_video": video}, secure_media={"reddit_video": video})
    elif post.kind == "gallery":
        media_ids = [textgen.to_base36(rng.getrandbits(50))[:13] for _ in range(rng.randint(2, 6))]
        fields.update(
            domain="reddit.com",
            url=f"https://www.reddit.com/gallery/{post.id}",
            is_gallery=True,
            gallery_data={"items": [{"media_id": m, "id": 100000 + i} for i, m in enumerate(media_ids)]},
            media_metadata={
                m: {
                    "status": "valid",
                    "e": "Image",
                    "m": "image/jpg",
                    "p": [{"y": 108, "x": 108, "u": f"https://preview.redd.it/{m}.jpg?width=108&format=pjpg"}],
                    "s": {"y": 1080, "x": 1080, "u": f"https://preview.redd.it/{m}.jpg?width=1080&format=pjpg"},
                    "id": m,
                }
                for m in media_ids
            },
        )
    return fields


def post_data(world: World, post: Post, now: float, *, with_crosspost: bool = True) -> dict[str, Any]:
    rng = random.Random(f"{world.config.seed}:body:{post.id}")
    title = post_title(world, post)
    sub = world.subreddit(post.subreddit)
    assert sub is not None
    selftext = textgen.selftext(rng, huge=post.huge) if post.kind == "self" else ""
    if post.stickied:
        selftext = "Use this thread for questions & small talk. Be nice <3"
    account = world.account(post.author)
    author = DELETED if account is not None and account.deleted else post.author
    removed_by_category = None
    if post.deleted:
        author = DELETED
        selftext = DELETED if post.kind == "self" else ""
        removed_by_category = "deleted"
    elif post.removed:
        selftext = REMOVED if post.kind == "self" else ""
        removed_by_category = "moderator"
    score = ranking.post_score(post, now)
    thread = world.thread(post)
    edited: float | bool = post.edited_at if post.edited_at and post.edited_at <= now and not post.deleted else False
    data: dict[str, Any] = {
        "approved_at_utc": None,
        "subreddit": sub.name,
        "selftext": selftext,
        "selftext_html": _md_html(selftext) if selftext else None,
        "author_fullname": None if author == DELETED or account is None else "t2_" + account.id,
        "saved": False,
        "mod_reason_title": None,
        "gilded": 1 if score > 5000 else 0,
        "clicked": False,
        "title": title,
        "link_flair_richtext": [],
        "subreddit_name_prefixed": f"r/{sub.name}",
        "hidden": False,
        "pwls": 6,
        "link_flair_css_class": None,
        "downs": 0,
        "top_awarded_type": None,
        "hide_score": now - post.created < 3600,
        "name": post.fullname,
        "quarantine": sub.kind == "quarantined",
        "link_flair_text_color": "dark",
        "upvote_ratio": post.ratio,
        "author_flair_background_color": None,
        "subreddit_type": "public",
        "ups": score,
        "total_awards_received": 1 if score > 5000 else 0,
        "is_original_content": False,
        "is_reddit_media_domain": post.kind in ("image", "video"),
        "is_meta": False,
        "category": None,
        "link_flair_text": post.flair,
        "can_mod_post": False,
        "score": score,
        "approved_by": None,
        "is_created_from_ads_ui": False,
        "author_premium": False,
        "edited": edited,
        "author_flair_css_class": None,
        "author_flair_richtext": [],
        "gildings": {},
        "content_categories": None,
        "is_self": post.kind == "self",
        "mod_note": None,
        "created": post.created,
        "link_flair_type": "text",
        "wls": 6,
        "removed_by_category": removed_by_category,
        "banned_by": None,
        "author_flair_type": "text",
        "allow_live_comments": False,
        "likes": None,
        "suggested_sort": None,
        "banned_at_utc": None,
        "view_count": None,
        "archived": now - post.created > 180 * 86400,
        "no_follow": score < 2,
        "is_crosspostable": True,
        "pinned": False,
        "over_18": post.nsfw or sub.over18,
        "all_awardings": [],
        "awarders": [],
        "media_only": False,
        "can_gild": True,
        "spoiler": post.spoiler,
        "locked": post.locked,
        "author_flair_text": None,
        "treatment_tags": [],
        "visited": False,
        "removed_by": None,
        "num_reports": None,
        "distinguished": "moderator" if post.stickied else None,
        "subreddit_id": "t5_" + sub.id,
        "author_is_blocked": False,
        "mod_reason_by": None,
        "removal_reason": None,
        "link_flair_background_color": "",
        "id": post.id,
        "is_robot_indexable": not (post.deleted or post.removed),
        "report_reasons": None,
        "author": author,
        "discussion_type": None,
        "num_comments": thread.visible_count(now),
        "send_replies": True,
        "contest_mode": False,
        "author_patreon_flair": False,
        "author_flair_text_color": None,
        "permalink": permalink(world, post),
        "stickied": post.stickied,
        "subreddit_subscribers": sub.subscribers,
        "created_utc": post.created,
        "num_crossposts": 0,
        "mod_reports": [],
        "user_reports": [],
    }
    if author == DELETED:
        del data["author_fullname"]  # Reddit drops the account link of deleted things
    # Like Reddit, gallery fields exist only on galleries and preview only with a post_hint,
    # so consumers must cope with missing keys.
    data.update(_media_fields(world, post, rng))
    if "post_hint" not in data:
        data.pop("preview", None)
    if post.crosspost_parent:
        parent = world.post(post.crosspost_parent)
        data["crosspost_parent"] = "t3_" + post.crosspost_parent
        if with_crosspost and parent is not None:
            parent_data = post_data(world, parent, now, with_crosspost=False)
            data["crosspost_parent_list"] = [parent_data]
            for key in ("url", "domain", "thumbnail", "post_hint", "is_video", "media", "is_gallery",
                        "gallery_data", "media_metadata"):
                if key in parent_data:
                    data[key] = parent_data[key]
            data["is_self"] = False
    return _overridden(world, post.id, data)


def comment_data(world: World, comment: Comment, post: Post, now: float, replies: dict | str) -> dict[str, Any]:
    rng = random.Random(f"{world.config.seed}:comment:{comment.id}")
    body = textgen.comment_body(rng)
    account = world.account(comment.author)
    author = DELETED if account is not None and account.deleted else comment.author
    if comment.stickied:
        body = "Reminder: keep it civil. *I am a bot, and this action was performed automatically.*"
    if comment.deleted:
        body, author = DELETED, DELETED
    elif comment.removed or comment.spam:
        body, author = REMOVED, DELETED
    score = ranking.comment_score(comment, now)
    sub = world.subreddit(post.subreddit)
    assert sub is not None
    edited: float | bool = (
        comment.edited_at
        if comment.edited_at and comment.edited_at <= now and not comment.gone
        else False
    )
    score_hidden = sub.index % 2 == 0 and now - comment.created < 3600
    gone = comment.gone
    data = {
        "subreddit_id": "t5_" + sub.id,
        "approved_at_utc": None,
        "author_is_blocked": False,
        "comment_type": None,
        "awarders": [],
        "mod_reason_by": None,
        "banned_by": None,
        "author_flair_type": "text",
        "total_awards_received": 0,
        "subreddit": sub.name,
        "author_flair_template_id": None,
        "likes": None,
        "replies": replies,
        "user_reports": [],
        "saved": False,
        "id": comment.id,
        "banned_at_utc": None,
        "mod_reason_title": None,
        "gilded": 0,
        "archived": now - post.created > 180 * 86400,
        "collapsed_reason_code": "DELETED" if gone else None,
        "no_follow": score < 2,
        "author": author,
        "can_mod_post": False,
        "created_utc": comment.created,
        "send_replies": True,
        "parent_id": comment.parent_fullname,
        "score": score,
        "author_fullname": None if author == DELETED or account is None else "t2_" + account.id,
        "approved_by": None,
        "mod_note": None,
        "all_awardings": [],
        "collapsed": gone or score < -4,
        "body": body,
        "edited": edited,
        "top_awarded_type": None,
        "author_flair_css_class": None,
        "name": comment.fullname,
        "is_submitter": author == post.author and author != DELETED,
        "downs": 0,
        "author_flair_richtext": [],
        "author_patreon_flair": False,
        "body_html": _md_html(body),
        "removal_reason": None,
        "collapsed_reason": None,
        "distinguished": "moderator" if comment.stickied else None,
        "associated_award": None,
        "stickied": comment.stickied,
        "author_premium": False,
        "can_gild": True,
        "gildings": {},
        "unrepliable_reason": None,
        "author_flair_text_color": None,
        "score_hidden": score_hidden,
        "permalink": f"{permalink(world, post)}{comment.id}/",
        "subreddit_type": "public",
        "locked": False,
        "report_reasons": None,
        "created": comment.created,
        "author_flair_text": None,
        "treatment_tags": [],
        "link_id": post.fullname,
        "subreddit_name_prefixed": f"r/{sub.name}",
        "controversiality": 1 if comment.controversial else 0,
        "depth": comment.depth,
        "author_flair_background_color": None,
        "collapsed_because_crowd_control": None,
        "mod_reports": [],
        "num_reports": None,
        "ups": score,
    }
    if author == DELETED:
        del data["author_fullname"]
    return _overridden(world, comment.id, data)


def flat_comment_data(world: World, comment: Comment, post: Post, now: float) -> dict[str, Any]:
    """A comment outside a tree (comment listings, /api/info, archives): no ``depth``, as Reddit and
    the archives send none there (only a tree knows how deep a comment sits)."""
    data = comment_data(world, comment, post, now, "")
    data.pop("depth", None)
    return data


def _overridden(world: World, thing_id: str, data: dict[str, Any]) -> dict[str, Any]:
    """Apply the config's ``thing_overrides`` (fault injection) to a rendered thing."""
    for key, value in world.config.thing_overrides.get(thing_id, {}).items():
        if value == ABSENT:
            data.pop(key, None)
        else:
            data[key] = value
    return data


def more(ids: list[str], count: int, parent_fullname: str, depth: int) -> dict:
    return {
        "kind": "more",
        "data": {
            "count": count,
            "name": "t1_" + ids[0],
            "id": ids[0],
            "parent_id": parent_fullname,
            "depth": depth,
            "children": ids,
        },
    }


def continue_thread(parent_fullname: str, depth: int) -> dict:
    """Reddit's "continue this thread" link: fetched via /comments/{post}/_/{parent}."""
    return {
        "kind": "more",
        "data": {"count": 0, "name": "t1__", "id": "_", "parent_id": parent_fullname, "depth": depth,
                 "children": []},
    }


def subreddit_data(world: World, sub: Subreddit) -> dict[str, Any]:
    rng = random.Random(f"{world.config.seed}:about:{sub.name.lower()}")
    description = textgen.paragraph(rng, 3)
    return {
        "user_flair_background_color": None,
        "submit_text_html": None,
        "restrict_posting": True,
        "user_is_banned": None,
        "free_form_reports": True,
        "wiki_enabled": True,
        "user_is_muted": None,
        "display_name": sub.name,
        "header_img": None,
        "title": f"r/{sub.name}: " + textgen.sentence(rng, 2, 6, spice=0),
        "allow_galleries": True,
        "icon_size": None,
        "primary_color": "#0079d3",
        "active_user_count": max(1, sub.subscribers // 400),
        "icon_img": "",
        "display_name_prefixed": f"r/{sub.name}",
        "accounts_active": max(1, sub.subscribers // 400),
        "public_traffic": False,
        "subscribers": sub.subscribers,
        "user_flair_richtext": [],
        "name": "t5_" + sub.id,
        "quarantine": sub.kind == "quarantined",
        "hide_ads": False,
        "emojis_enabled": False,
        "advertiser_category": "",
        "public_description": textgen.sentence(rng, 5, 15),
        "comment_score_hide_mins": 60 if sub.index % 2 == 0 else 0,
        "allow_predictions": False,
        "user_has_favorited": None,
        "community_icon": "",
        "banner_background_image": "",
        "submit_text": "",
        "description_html": _md_html(description),
        "spoilers_enabled": True,
        "allow_videos": True,
        "user_is_moderator": None,
        "submission_type": "any",
        "allow_images": True,
        "whitelist_status": "all_ads",
        "url": f"/r/{sub.name}/",
        "created": sub.created_utc,
        "created_utc": sub.created_utc,
        "lang": "en",
        "over18": sub.over18,
        "subreddit_type": "restricted" if sub.kind == "quarantined" else sub.kind,
        "description": description,
        "id": sub.id,
        "user_is_subscriber": None,
        "wls": 6,
        "mobile_banner_image": "",
    }


def account_data(world: World, account: Account) -> dict[str, Any]:
    """A profile as ``/user/NAME/about`` shows it (``thing_overrides`` keyed by the account's name)."""
    if account.suspended:
        data = {"name": account.name, "is_suspended": True, "is_blocked": False, "awardee_karma": 0,
                "awarder_karma": 0, "total_karma": 0}
        return _overridden(world, account.name, data)
    return _overridden(world, account.name, {
        "is_employee": False,
        "is_friend": False,
        "subreddit": None,
        "snoovatar_size": None,
        "awardee_karma": 0,
        "id": account.id,
        "verified": account.verified,
        "is_gold": account.is_gold,
        "is_mod": account.is_mod,
        "awarder_karma": 0,
        "has_verified_email": account.verified,
        "icon_img": "https://www.redditstatic.com/avatars/defaults/v2/avatar_default_1.png",
        "hide_from_robots": False,
        "link_karma": account.link_karma,
        "pref_show_snoovatar": False,
        "is_blocked": False,
        "total_karma": account.link_karma + account.comment_karma,
        "accept_chats": True,
        "name": account.name,
        "created": account.created_utc,
        "created_utc": account.created_utc,
        "snoovatar_img": "",
        "comment_karma": account.comment_karma,
        "accept_followers": True,
        "has_subscribed": True,
    })
