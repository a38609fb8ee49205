"""Failure injection: the ways Reddit and its CDN misbehave, at configurable rates."""

from __future__ import annotations

import random
import threading
import zlib
from dataclasses import dataclass

from .config import FaultConfig

HTML_DOWN = (
    "<!doctype html><html><head><title>Reddit - Dive into anything</title></head>"
    "<body><h1>Reddit is down</h1><p>Our CDN was unable to reach our servers. "
    "Please try again in a few minutes.</p></body></html>"
)
ERROR_HTML = "<html><body><h1>{status} {reason}</h1><p>all servers are busy right now</p></body></html>"
REASONS = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable", 504: "Gateway Timeout"}


@dataclass(frozen=True)
class Fault:
    kind: str  # outage | error_5xx | reset | html_200 | truncated_json
    status: int = 200
    html: bool = False


@dataclass(frozen=True)
class Decision:
    fault: Fault | None
    delay: float


class FaultInjector:
    """Draws faults from a seeded stream, so a run with the same request sequence repeats."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self.replace(config)

    @property
    def config(self) -> FaultConfig:
        return self._config

    def replace(self, config: FaultConfig) -> None:
        with self._lock:
            self._config = config
            self._rng = random.Random(config.seed)
            self._owed = dict(config.fail_paths)

    def owed(self, path: str) -> Fault | None:
        """A 503 while ``fail_paths`` still owes this path failures (each one answered uses one up)."""
        with self._lock:
            if self._owed.get(path, 0) <= 0:
                return None
            self._owed[path] -= 1
            return Fault("error_5xx", 503)

    def decide(self, seconds_since_start: float) -> Decision:
        with self._lock:
            cfg, rng = self._config, self._rng
            delay = cfg.slow_seconds if rng.random() < cfg.slow_rate else 0.0
            if any(start <= seconds_since_start < end for start, end in cfg.outages):
                return Decision(Fault("outage", 503, html=rng.random() < 0.5), delay)
            roll = rng.random()
            for kind, rate in (
                ("error_5xx", cfg.error_5xx_rate),
                ("reset", cfg.reset_rate),
                ("html_200", cfg.html_200_rate),
                ("truncated_json", cfg.truncated_json_rate),
            ):
                if roll < rate:
                    if kind == "error_5xx":
                        return Decision(Fault(kind, rng.choice(tuple(REASONS)), html=rng.random() < 0.5), delay)
                    return Decision(Fault(kind), delay)
                roll -= rate
            return Decision(None, delay)


    def unexpandable(self, comment_id: str) -> bool:
        """Whether morechildren and the focused view refuse to expand this comment (stable per id)."""
        cfg = self._config
        if not cfg.unexpandable_rate:
            return False
        return zlib.crc32(f"{cfg.seed}:{comment_id}".encode()) < cfg.unexpandable_rate * 2**32
