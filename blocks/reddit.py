"""A Prefect block holding a Reddit app's credentials, for deployments.

Workers (local or ECS) then need no secret in their environment: the flow
loads the block named by ``reddit.block`` in the settings (or
``REDDITLAKE_REDDIT_BLOCK``). Create it once::

    uv run python -m blocks.reddit my-app   # reads REDDIT_CLIENT_ID / _SECRET / _USER_AGENT
"""

from __future__ import annotations

import os
import sys

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from redditlake.config import DEFAULT_USER_AGENT, Settings


class RedditApp(Block):
    _block_type_name = "Reddit App"
    _description = "OAuth credentials of a Reddit app (script type), used by redditlake's flows."

    client_id: str = Field(description="the app's id, under its name at reddit.com/prefs/apps")
    client_secret: SecretStr
    user_agent: str = DEFAULT_USER_AGENT


def with_reddit_block(settings: Settings, name: str | None) -> Settings:
    """Settings naming block ``name`` (a deployment parameter), unless the environment
    already gives credentials or no name is given."""
    if not name or settings.reddit.client_id:
        return settings
    return settings.model_copy(update={"reddit": settings.reddit.model_copy(update={"block": name})})


async def apply_reddit_block(settings: Settings) -> Settings:
    """Settings with credentials from the configured block, when one is named and the
    environment does not already provide them."""
    name = settings.reddit.block
    if not name or settings.reddit.client_id:
        return settings
    app = await RedditApp.aload(name)
    reddit = settings.reddit.model_copy(
        update={"client_id": app.client_id, "client_secret": app.client_secret, "user_agent": app.user_agent}
    )
    return settings.model_copy(update={"reddit": reddit})


if __name__ == "__main__":
    block_name = sys.argv[1] if len(sys.argv) > 1 else "redditlake"
    RedditApp(
        client_id=os.environ["REDDIT_CLIENT_ID"],
        client_secret=os.environ["REDDIT_CLIENT_SECRET"],
        user_agent=os.environ.get("REDDIT_USER_AGENT", DEFAULT_USER_AGENT),
    ).save(block_name, overwrite=True)
    print(f"saved Reddit App block {block_name!r}; set reddit.block: {block_name} (or REDDITLAKE_REDDIT_BLOCK)")
