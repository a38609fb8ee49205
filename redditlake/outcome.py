"""What one piece of a run came to: the one type flows return and the CLI judges.

A run's report used to travel as text, and callers looked for the word ``FAILED`` in it to pick
an exit code or a run state: a reworded line would have turned a failure into a success. An
``Outcome`` carries the verdict as fields (``ok``, ``must_act``) and renders its line only for
people; nothing decides anything from the line.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace


@dataclass(frozen=True)
class Outcome:
    """One line of a run's report, with its verdict.

    ``subject`` is what the line is about (``r/python``, ``r/python pullpush posts``, a dump
    file's name, ``result storage``); ``detail`` what happened to it, as the line says it after
    the subject. A failure says why in ``reason``. ``must_act``: the work did not fail, but an
    operator has to do something (a subreddit that cannot be read: wait, ask, or drop it).
    ``warn``: worth a warning in the log, not a failure (a stream's coverage gap).
    """

    subject: str
    ok: bool = True
    reason: str | None = None
    detail: str = ""
    items: int = 0
    requests: int = 0
    must_act: bool = False
    warn: bool = False

    @classmethod
    def failed(cls, subject: str, reason: str, **counts: int) -> Outcome:
        return cls(subject, ok=False, reason=reason, **counts)

    @classmethod
    def note(cls, text: str) -> Outcome:
        """A report line that is neither a verdict nor about one subject (a summary, a table's compaction)."""
        return cls(text)

    @property
    def bad(self) -> bool:
        """Should the run say so: exit non-zero, log an error, end Failed or alert?"""
        return not self.ok or self.must_act

    def line(self) -> str:
        if not self.ok:
            return f"{self.subject}: FAILED: {self.reason}"
        return f"{self.subject}: {self.detail}" if self.detail else self.subject

    def prefixed(self, prefix: str) -> Outcome:
        """The same outcome, reported within a larger step (``full sweep r/python: …``)."""
        return replace(self, subject=f"{prefix} {self.subject}")


def lines(outcomes: Iterable[Outcome]) -> list[str]:
    return [o.line() for o in outcomes]


def exit_code(outcomes: Iterable[Outcome]) -> int:
    """The CLI's exit code for a run's outcomes: 1 if any failed or needs an operator, else 0."""
    return 1 if any(o.bad for o in outcomes) else 0
