"""Pseudonymous authors, for research under privacy rules.

With ``privacy.pseudonymise_authors`` on, every account name and account id is
replaced by a keyed hash (HMAC-SHA256) before anything is written: the same
author gets the same pseudonym in every table and every run, so threads and
authors can still be analysed, but the name cannot be recovered without the
key. The key is a secret (``REDDITLAKE_PSEUDONYM_KEY``): lose it and
pseudonyms of new data will not match the old; leak it and names can be
confirmed by guessing.
"""

from __future__ import annotations

import hashlib
import hmac
import pyarrow as pa

from redditlake.errors import ConfigError

KEEP = {None, "", "[deleted]", "AutoModerator"}
# column -> pseudonym prefix, in every table (users.author / users.account_id join posts' and comments')
COLUMNS = {"author": "u_", "author_fullname": "t2_", "account_id": "t2_"}


class Pseudonymiser:
    def __init__(self, key: str | None):
        if not key:
            raise ConfigError(
                "privacy.pseudonymise_authors is on but REDDITLAKE_PSEUDONYM_KEY is not set: "
                "export a long random secret (the same one for every run of this lake)"
            )
        self._key = key.encode("utf-8")

    def pseudonym(self, value: str | None, prefix: str = "u_") -> str | None:
        if value in KEEP:
            return value
        digest = hmac.new(self._key, value.lower().encode("utf-8"), hashlib.sha256).hexdigest()
        return f"{prefix}{digest[:20]}"

    def reference(self, name: str) -> str:
        """A keyed reference to an account for the audit trail of a ``forget-user`` request: the
        same name always gives the same reference (a later request, or a person asking whether
        theirs was done, can be matched by whoever holds the key), the name cannot be read back,
        and it differs from the account's pseudonym, so it does not point at rows of old copies."""
        digest = hmac.new(self._key, b"forget-user\0" + name.lower().encode("utf-8"), hashlib.sha256).hexdigest()
        return f"ref_{digest[:20]}"

    def table(self, table: pa.Table) -> pa.Table:
        """The same table with every account name and account id column pseudonymised."""
        for column, prefix in COLUMNS.items():
            if column in table.column_names:
                i = table.column_names.index(column)
                values = [self.pseudonym(v, prefix) for v in table.column(column).to_pylist()]
                table = table.set_column(i, table.field(i), pa.array(values, type=pa.string()))
        return table
