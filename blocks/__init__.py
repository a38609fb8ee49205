"""redditlake's Prefect block types; `prefect block register -m blocks` registers them all."""

from blocks.lake import LakeLocation
from blocks.reddit import RedditApp

__all__ = ["LakeLocation", "RedditApp"]
