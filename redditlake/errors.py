"""Errors a user can act on. Each message is one line that says what to do next;
the CLI prints ``str(error)`` and exits non-zero, never a traceback."""

from __future__ import annotations


class RedditLakeError(Exception):
    """Base class: an expected failure with a message meant for the user."""


class ConfigError(RedditLakeError):
    pass


class CredentialsError(RedditLakeError):
    pass


class InvalidSubredditName(RedditLakeError):
    def __init__(self, name: str):
        self.name = name
        super().__init__(
            f"invalid subreddit name {name!r}: use 2-21 letters, digits or underscores, without the r/ prefix"
        )


class SubredditUnavailable(RedditLakeError):
    """Reddit will not give us this subreddit: it does not exist, is private, banned or quarantined."""

    def __init__(self, name: str, reason: str, code: str | None = None):
        self.name = name
        self.reason = reason
        # Reddit's own word when it gave one (private, banned, quarantined, gold_only), else None.
        self.code = code
        super().__init__(f"r/{name} is {reason}: check the name, or drop it from the run")


class AnswerTooLarge(RedditLakeError):
    """Reddit refused a request as too large (413, or its error body): ask again smaller."""

    def __init__(self, path: str):
        self.path = path
        super().__init__(f"Reddit refused {path} as too large even at its smallest; the rest of that thread is skipped")


class ApiUnavailable(RedditLakeError):
    """The API kept failing after every retry, or its circuit breaker is open."""


class ResponseTooLarge(ApiUnavailable):
    """An answer body past ``http.max_body_bytes``: not retried (it would be as large again)."""


class TransientApiError(ApiUnavailable):
    """One request failed in a way worth retrying (5xx, 429, timeout, reset, bad body)."""

    def __init__(self, error_class: str, detail: str, retry_after: float | None = None):
        self.error_class = error_class
        self.retry_after = retry_after
        super().__init__(f"{error_class}: {detail}")


def first_problem(exc) -> tuple[str, str]:
    """A pydantic ``ValidationError`` as (dotted location, message): the one line users read.

    Only the first problem is shown: fixing it and rerunning is quicker than reading a list.
    """
    err = exc.errors()[0]
    return ".".join(str(p) for p in err["loc"]), err["msg"].removeprefix("Value error, ")
