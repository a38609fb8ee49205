"""How every flow run starts: its settings, with the run's overrides and the saved blocks, and
its lake, landing and quality recorder.

One route for all flows, so that a deployment parameter, a CLI flag or a block means the same in
``collect`` as in ``refresh``, ``stream``, ``backfill``, ``follow-archive`` or ``maintain-lake``:
the order is (1) the settings (given, or loaded from the config), (2) the run's overrides,
(3) the Reddit block named by the run or the settings, (4) the lake block, which wins over a
``lake`` parameter (a deployment names its lake by the block).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from blocks.lake import apply_lake_block
from blocks.reddit import apply_reddit_block, with_reddit_block
from flows.common import open_client, open_lake, open_landing
from redditlake.config import Settings, load_settings, with_overrides
from redditlake.lake import Lake
from redditlake.landing import Landing
from redditlake.reddit.client import RedditClient
from tasks.quality import start_recording


async def run_settings(
    settings: Settings | None = None,
    *,
    lake: str | None = None,
    reddit_block: str | None = None,
    lake_block: str | None = None,
    **collect: object,
) -> Settings:
    """The settings of one run: ``collect`` are the ``collect`` section's overrides
    (sorts, limit, time_filter, comments, users, comment_depth), as ``with_overrides`` takes them."""
    settings = with_overrides(settings or load_settings(), lake=lake, **collect)  # type: ignore[arg-type]
    settings = with_reddit_block(settings, reddit_block)
    return await apply_reddit_block(await apply_lake_block(settings, lake_block))


@dataclass
class RunContext:
    """What a run works with. The lake opens (and is checked to be a Delta lake) on first use;
    the landing writes to that same lake."""

    settings: Settings
    job: str
    _lake: Lake | None = field(default=None, repr=False)
    _landing: Landing | None = field(default=None, repr=False)

    @property
    def lake(self) -> Lake:
        if self._lake is None:
            self._lake = open_lake(self.settings)
        return self._lake

    @property
    def landing(self) -> Landing:
        if self._landing is None:
            self._landing = open_landing(self.settings, self.lake)
        return self._landing

    def start_recording(self):
        """The landing validates every batch it lands from now on (``None`` when quality is off)."""
        return start_recording(self.landing, self.settings, self.job)

    async def client(self) -> RedditClient:
        return await open_client(self.settings)


async def prepare_run(
    job: str,
    settings: Settings | None = None,
    *,
    lake: str | None = None,
    reddit_block: str | None = None,
    lake_block: str | None = None,
    **collect: object,
) -> RunContext:
    """The run's context: ``run_settings`` applied once; the lake opens when first used."""
    settings = await run_settings(settings, lake=lake, reddit_block=reddit_block, lake_block=lake_block, **collect)
    return RunContext(settings, job)
