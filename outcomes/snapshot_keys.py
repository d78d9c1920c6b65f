"""The success-gap snapshot's references, to its member and to its run, checked once per
statement (``tenancy.statement_keys``) instead of once per row by foreign keys.

Scoring writes a snapshot per member, 50,000 in one statement: two foreign keys cost it 0.4 s
of checks per chunk (one lookup and lock per row and key), and every row of a chunk locks the
same run row again. The triggers check the same rules, in the snapshot's organization, with
one locking query per key and statement. The snapshot's own key to the organization goes too:
a snapshot names a member of its organization, which exists (so does the organization).
"""

from __future__ import annotations

from typing import Any

from django.db import DEFAULT_DB_ALIAS

from tenancy.statement_keys import StatementKey, ensure_statement_keys

SNAPSHOT_KEYS = (
    StatementKey(
        name="snapshot_member_key",
        table="outcomes_successgapsnapshot",
        column="member_id",
        target="members_member",
    ),
    StatementKey(
        name="snapshot_run_key",
        table="outcomes_successgapsnapshot",
        column="run_id",
        target="outcomes_successgaprun",
    ),
)


def create_snapshot_keys(sender: Any, *, using: str = DEFAULT_DB_ALIAS, **kwargs: Any) -> None:
    """``post_migrate`` receiver."""
    ensure_statement_keys(SNAPSHOT_KEYS, using=using)
