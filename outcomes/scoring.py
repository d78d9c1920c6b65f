"""The success-gap engine: every member of an organization scored in a few SQL statements.

The formula (the README's "Success gap" section says the same in prose):

Counts, per member, as of the organization's local date D and the moment T of the run:

- milestones: functional and operational milestones that are due (due on or before D) or
  already achieved; ``milestones_done`` of them achieved.
- commitments: commitments on our side (together, us behind the scenes) due by D or already
  done; ``commitments_done`` of them done.
- goals: active goals (status active or hollow). For each one
  progress p = 1 if its objective is reached, else for a measurable goal
  clamp((current − baseline) / (target − baseline)), else 0;
  expected e = clamp((D − start) / (due − start)) (1 once started when start = due);
  pace r = 1 when e ≤ 0 or p ≥ e, else p / e. ``pace`` is the mean r over active goals.
- conditions of active goals: ``conditions_total``, ``conditions_met``.
- strategic milestones of active goals due by D or achieved: ``strategic_due``/``_done``.
- required, active experience elements: ``experience_required``; ``experience_fulfilled`` of
  them had an engagement of their type within ``cadence_days`` before T.

Then, with the organization's weights (a part counts only when its denominator is not zero):

- F = (w_ms·done/due + w_cm·done/due) / (w_ms + w_cm over present parts), or none.
- O = (w_pace·pace + w_cond·met/total + w_strat·done/due + w_ax·fulfilled/required) / (sum of
  the present parts' weights), or none — and none whenever the member has no active goal.
- gap = max(0, (F or 0) − O) × 100, none when O is none.
- band: "no_outcome" when O is none; "at_risk" when gap ≥ at_risk_gap or pace < at_risk_pace;
  "watch" when gap ≥ watch_gap or pace < watch_pace; otherwise "on_track".

Everything is computed inside the database by one INSERT … SELECT over derived tables grouped
by member, so the number of statements does not depend on the number of members. The SQL is
the same on SQLite and PostgreSQL except for three small fragments (day numbers, float casts,
JSON) chosen by vendor. Floats are used throughout (decimals are cast), so both databases and
the Python reference in the tests compute with the same IEEE doubles.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from django.db import IntegrityError, connection, transaction
from django.db.backends.utils import CursorWrapper
from django.db.models import F
from django.utils import timezone

from audit.services import audit_record
from members.models import Member
from outcomes.models import (
    ONE_SNAPSHOT_PER_MEMBER_PER_RUN,
    Band,
    ScoringConfiguration,
    SuccessGapRun,
)
from tenancy.models import Organization

logger = logging.getLogger(__name__)

EPOCH = dt.date(1970, 1, 1)


@dataclass(frozen=True)
class Dialect:
    """The few places where SQLite and PostgreSQL spell things differently."""

    vendor: str

    def day(self, column: str) -> str:
        """Days since 1970-01-01 of a DATE column, as an integer."""
        if self.vendor == "postgresql":
            return f"({column} - DATE '1970-01-01')"
        return f"CAST(julianday({column}) - 2440587.5 AS INTEGER)"

    def epoch_days(self, column: str) -> str:
        """Days (fractional) since the epoch of a TIMESTAMP column."""
        if self.vendor == "postgresql":
            return f"(EXTRACT(EPOCH FROM {column}) / 86400.0)"
        return f"(julianday({column}) - 2440587.5)"

    def fence(self) -> str:
        """Keep a subquery from being flattened, so its columns are computed once per row
        (PostgreSQL's OFFSET 0; SQLite needs a LIMIT before an OFFSET)."""
        return " OFFSET 0" if self.vendor == "postgresql" else " LIMIT -1 OFFSET 0"

    def days_before_now(self, days: str) -> str:
        """The moment ``days`` days (an SQL integer) and one second before ``%(now)s``, as a
        value comparable with a TIMESTAMP column; NULL when ``days`` is NULL."""
        if self.vendor == "postgresql":
            return (
                f"(CAST(%(now)s AS TIMESTAMP WITH TIME ZONE) - ({days}) * INTERVAL '1 day'"
                " - INTERVAL '1 second')"
            )
        return f"datetime(%(now)s, '-' || ({days}) || ' days', '-1 seconds')"

    def materialized(self) -> str:
        """A common table expression computed once, not inlined into each use (PostgreSQL
        inlines one used once; SQLite decides for itself)."""
        return "MATERIALIZED" if self.vendor == "postgresql" else ""

    def condition_counts(self, goal: str) -> tuple[str, str]:
        """(select-list items, FROM addition) counting the conditions of each ``goal`` row, met
        and all: one index probe per goal on PostgreSQL (a LATERAL join), two correlated
        subqueries on SQLite, which has no LATERAL."""
        if self.vendor == "postgresql":
            return (
                "cc.total AS conditions_total, cc.met AS conditions_met",
                " LEFT JOIN LATERAL (SELECT COUNT(*) AS total,"
                " COUNT(CASE WHEN c.state = 'met' THEN 1 END) AS met"
                " FROM outcomes_condition c"
                f" WHERE c.organization_id = %(org)s AND c.goal_id = {goal}.id) cc ON TRUE",
            )
        counted = (
            "(SELECT COUNT(*) FROM outcomes_condition c"
            f" WHERE c.organization_id = %(org)s AND c.goal_id = {goal}.id{{}})"
        )
        met = counted.format(" AND c.state = 'met'")
        return f"{counted.format('')} AS conditions_total, {met} AS conditions_met", ""

    def real(self, expression: str) -> str:
        kind = "DOUBLE PRECISION" if self.vendor == "postgresql" else "REAL"
        return f"CAST({expression} AS {kind})"

    def json_object(self, *pairs: tuple[str, str]) -> str:
        args = ", ".join(f"'{key}', {value}" for key, value in pairs)
        if self.vendor == "postgresql":
            return f"CAST(json_build_object({args}) AS jsonb)"
        return f"json_object({args})"


def clamp01(expression: str) -> str:
    x = expression
    return f"(CASE WHEN {x} < 0 THEN 0.0 WHEN {x} > 1 THEN 1.0 ELSE {x} END)"


def scoring_configuration(*, organization: Organization) -> ScoringConfiguration:
    """The organization's configuration, or the defaults (not saved) when it has none."""
    found = ScoringConfiguration.objects.for_org(organization).first()
    return found or ScoringConfiguration(organization=organization)


@dataclass(frozen=True)
class MemberRange:
    """Which members a computation covers: all, an id range (a chunk), or a list of ids."""

    low: int | None = None
    high: int | None = None
    ids: tuple[int, ...] | None = None

    def clause(self, column: str) -> str:
        """SQL restricting ``column`` (a member id) to this range, with named parameters."""
        if self.ids is not None:
            if not self.ids:
                return " AND 1 = 0"
            return f" AND {column} IN ({', '.join(f'%(id{n})s' for n in range(len(self.ids)))})"
        text = ""
        if self.low is not None:
            text += f" AND {column} >= %(low)s"
        if self.high is not None:
            text += f" AND {column} < %(high)s"
        return text

    def params(self) -> dict:
        if self.ids is not None:
            return {f"id{n}": member_id for n, member_id in enumerate(self.ids)}
        return {"low": self.low, "high": self.high}


ACTIVE_GOAL = "status IN ('active', 'hollow')"


def counts_sql(d: Dialect, scope: MemberRange) -> str:
    """One row per member of the scope with every count the score needs.

    Each part is a derived table grouped by member and restricted to the organization (and the
    scope), joined to the members; parameters: org, today (day number), now_days, true.
    """

    def where(alias: str) -> str:
        prefix = f"{alias}." if alias else ""
        return f"{prefix}organization_id = %(org)s{scope.clause(prefix + 'member_id')}"

    def due_or_done(done: str, due: str) -> str:
        """Done already, or due by today."""
        return f"({done} IS NOT NULL OR ({due} IS NOT NULL AND {d.day(due)} <= %(today)s))"

    commitments = f"""
        SELECT member_id, COUNT(*) AS due,
               SUM(CASE WHEN done_at IS NOT NULL THEN 1 ELSE 0 END) AS done
        FROM milestones_commitment
        WHERE {where("")} AND party IN ('together', 'us_behind_scenes')
          AND {due_or_done("done_at", "due_on")}
        GROUP BY member_id"""
    share = (
        f"({d.real('COALESCE(current_value, baseline)')} - {d.real('baseline')})"
        f" / ({d.real('target')} - {d.real('baseline')})"
    )
    progress = (
        "CASE WHEN objective_reached_on IS NOT NULL THEN 1.0 "
        "WHEN target IS NOT NULL AND baseline IS NOT NULL AND target <> baseline "
        f"THEN {clamp01(share)} ELSE 0.0 END"
    )
    span = f"({d.day('due_on')} - {d.day('starts_on')})"
    elapsed = f"(%(today)s - {d.day('starts_on')})"
    expected = (
        f"CASE WHEN {span} <= 0 THEN (CASE WHEN {elapsed} >= 0 THEN 1.0 ELSE 0.0 END) "
        f"ELSE {clamp01(f'({elapsed} * 1.0 / {span})')} END"
    )
    # The scope's active goals, read once and shared by the parts that need them; each goal's
    # progress and expected share computed here, once, and its conditions counted here: they
    # reach their member only through the goal, and looked up goal by goal (an index probe
    # each) a chunk reads its own goals' conditions, not every condition of the organization.
    condition_counts, condition_join = d.condition_counts("outcomes_goal")
    active_goals = f"""
        SELECT id, member_id, {progress} AS p, {expected} AS e, {condition_counts}
        FROM outcomes_goal{condition_join} WHERE {where("")} AND {ACTIVE_GOAL}"""
    goals = """
        SELECT member_id, COUNT(*) AS active,
               AVG(CASE WHEN e <= 0 OR p >= e THEN 1.0 ELSE p / e END) AS pace,
               SUM(conditions_total) AS conditions_total, SUM(conditions_met) AS conditions_met
        FROM active_goals GROUP BY member_id"""
    # Functional and operational milestones (F) and the strategic milestones of active goals
    # (O) in one pass over the scope's milestones: one read of the table, not two. Whether a
    # strategic milestone's goal is active is a membership test (a hash on PostgreSQL, an
    # index SQLite builds for it), not a join: SQLite joined the goals by scanning them all
    # for each milestone (55 s for 20,000 members).
    functional = "pm.type IN ('functional', 'operational')"
    strategic = "(pm.type = 'strategic' AND pm.goal_id IN (SELECT id FROM active_goals))"
    milestones = f"""
        SELECT pm.member_id,
               SUM(CASE WHEN {functional} THEN 1 ELSE 0 END) AS due,
               SUM(CASE WHEN {functional} AND pm.achieved_at IS NOT NULL THEN 1 ELSE 0 END)
                   AS done,
               SUM(CASE WHEN {strategic} THEN 1 ELSE 0 END) AS strategic_due,
               SUM(CASE WHEN {strategic} AND pm.achieved_at IS NOT NULL THEN 1 ELSE 0 END)
                   AS strategic_done
        FROM milestones_progressmilestone pm
        WHERE {where("pm")} AND pm.type IN ('functional', 'operational', 'strategic')
          AND {due_or_done("pm.achieved_at", "pm.due_on")}
        GROUP BY pm.member_id"""
    # Only engagements inside the organization's longest required cadence can fulfil an
    # experience, so the aggregate reads those alone (a year of history against a 90-day
    # cadence is a quarter of the rows), from a second before that edge: rows at the edge are
    # still judged by the comparison below, as before.
    longest_cadence = """(SELECT MAX(cadence_days) FROM outcomes_appropriateexperience
        WHERE organization_id = %(org)s AND required = %(true)s AND is_active = %(true)s)"""
    last_engagement = f"""
        SELECT member_id, type, {d.epoch_days("MAX(occurred_at)")} AS last_day
        FROM engagement_engagement
        WHERE {where("")} AND occurred_at >= {d.days_before_now(longest_cadence)}
        GROUP BY member_id, type"""
    experience = f"""
        SELECT ax.member_id, COUNT(*) AS required,
               SUM(CASE WHEN le.last_day >= %(now_days)s - ax.cadence_days THEN 1 ELSE 0 END)
                   AS fulfilled
        FROM outcomes_appropriateexperience ax
        LEFT JOIN ({last_engagement}) le
               ON le.member_id = ax.member_id AND le.type = ax.engagement_type
        WHERE {where("ax")} AND ax.required = %(true)s AND ax.is_active = %(true)s
        GROUP BY ax.member_id"""
    return f"""
        WITH active_goals AS {d.materialized()} ({active_goals})
        SELECT m.id AS member_id,
               COALESCE(ms.due, 0) AS milestones_due, COALESCE(ms.done, 0) AS milestones_done,
               COALESCE(cm.due, 0) AS commitments_due, COALESCE(cm.done, 0) AS commitments_done,
               COALESCE(gl.active, 0) AS goals_active, gl.pace AS pace,
               COALESCE(gl.conditions_total, 0) AS conditions_total,
               COALESCE(gl.conditions_met, 0) AS conditions_met,
               COALESCE(ms.strategic_due, 0) AS strategic_due,
               COALESCE(ms.strategic_done, 0) AS strategic_done,
               COALESCE(ax.required, 0) AS experience_required,
               COALESCE(ax.fulfilled, 0) AS experience_fulfilled
        FROM members_member m
        LEFT JOIN ({milestones}) ms ON ms.member_id = m.id
        LEFT JOIN ({commitments}) cm ON cm.member_id = m.id
        LEFT JOIN ({goals}) gl ON gl.member_id = m.id
        LEFT JOIN ({experience}) ax ON ax.member_id = m.id
        WHERE m.organization_id = %(org)s{scope.clause("m.id")}"""


def weighted(d: Dialect, parts: list[tuple[str, str, str]]) -> str:
    """SQL for a weighted mean over the parts present: (weight param, value, present?).

    The weights are cast to floats once, in the text: a bare ``0.5`` is a NUMERIC literal on
    PostgreSQL, which would make every sum of weights decimal arithmetic, row by row."""
    numerator = " + ".join(
        f"(CASE WHEN {present} THEN {d.real(f'%({w})s')} * {value} ELSE 0.0 END)"
        for w, value, present in parts
    )
    denominator = " + ".join(
        f"(CASE WHEN {present} THEN {d.real(f'%({w})s')} ELSE 0.0 END)" for w, _, present in parts
    )
    return f"(CASE WHEN ({denominator}) > 0 THEN ({numerator}) / ({denominator}) ELSE NULL END)"


def scores_sql(d: Dialect, scope: MemberRange) -> str:
    """Counts, then F and O, then gap and band: one row per member, in the snapshot's columns."""
    functional = weighted(
        d,
        [
            (
                "milestones_weight",
                f"{d.real('milestones_done')} / milestones_due",
                "milestones_due > 0",
            ),
            (
                "commitments_weight",
                f"{d.real('commitments_done')} / commitments_due",
                "commitments_due > 0",
            ),
        ],
    )
    outcome = weighted(
        d,
        [
            ("pace_weight", "pace", "goals_active > 0"),
            (
                "conditions_weight",
                f"{d.real('conditions_met')} / conditions_total",
                "conditions_total > 0",
            ),
            (
                "strategic_weight",
                f"{d.real('strategic_done')} / strategic_due",
                "strategic_due > 0",
            ),
            (
                "experience_weight",
                f"{d.real('experience_fulfilled')} / experience_required",
                "experience_required > 0",
            ),
        ],
    )
    counts = counts_sql(d, scope)
    with_parts = f"""
        SELECT counts.*, {functional} AS functional,
               CASE WHEN goals_active > 0 THEN {outcome} ELSE NULL END AS outcome
        FROM ({counts}{d.fence()}) counts"""
    raw_gap = "(COALESCE(functional, 0.0) - outcome) * 100.0"
    with_gap = f"""
        SELECT parts.*,
               CASE WHEN outcome IS NULL THEN NULL WHEN {raw_gap} > 0 THEN {raw_gap} ELSE 0.0 END
                   AS gap
        FROM ({with_parts}{d.fence()}) parts"""
    return f"""
        SELECT scored.*,
               CASE WHEN outcome IS NULL THEN 'no_outcome'
                    WHEN gap >= %(at_risk_gap)s OR pace < %(at_risk_pace)s THEN 'at_risk'
                    WHEN gap >= %(watch_gap)s OR pace < %(watch_pace)s THEN 'watch'
                    ELSE 'on_track' END AS band
        FROM ({with_gap}{d.fence()}) scored"""


SNAPSHOT_COLUMNS = (
    "functional",
    "outcome",
    "gap",
    "pace",
    "band",
    "milestones_due",
    "milestones_done",
    "commitments_due",
    "commitments_done",
    "goals_active",
    "conditions_total",
    "conditions_met",
    "strategic_due",
    "strategic_done",
    "experience_required",
    "experience_fulfilled",
)


# How an insert leaves out the members its run already holds. SQLite: by looking for each
# one (through the run's unique key). PostgreSQL, first: not at all, the key refuses them (see
# ``_score_and_record``); again, after a refusal: ON CONFLICT DO NOTHING on that key.
SKIP_SCORED = """
        WHERE NOT EXISTS (
            SELECT 1 FROM outcomes_successgapsnapshot done
            WHERE done.organization_id = %(org)s AND done.run_id = %(run)s
              AND done.member_id = s.member_id)"""
CONFLICTS_SKIPPED = """
        ON CONFLICT (organization_id, run_id, member_id, computed_at) DO NOTHING"""


def insert_snapshots_sql(d: Dialect, scope: MemberRange, skip: str = SKIP_SCORED) -> str:
    """Insert one snapshot per member of the scope for the run, leaving out (``skip``) the
    members the run already scored, so re-running a chunk writes nothing twice."""
    columns = ", ".join(SNAPSHOT_COLUMNS)
    values = ", ".join("s." + column for column in SNAPSHOT_COLUMNS)
    return f"""
        INSERT INTO outcomes_successgapsnapshot
            (organization_id, run_id, member_id, computed_at, {columns})
        SELECT %(org)s, %(run)s, s.member_id, %(computed_at)s, {values}
        FROM ({scores_sql(d, scope)}) s{skip}"""


# The gap on record changes only when it moves by this much (or the band changes).
LATEST_CHANGED = """({member}.success_band <> {band}
           OR {member}.success_gap IS NULL AND {gap} IS NOT NULL
           OR {member}.success_gap IS NOT NULL AND {gap} IS NULL
           OR ABS({member}.success_gap - {gap}) >= 0.05)"""


def score_and_record_sql(d: Dialect, scope: MemberRange, skip: str = CONFLICTS_SKIPPED) -> str:
    """PostgreSQL: the three writes of a computation as one statement, the band events and the
    members' latest gap taken from the rows the insert returns instead of read back from the
    snapshot table (which also keeps them off the table's statistics, stale right after a large
    insert). Returns one row: snapshots inserted, band changes recorded.

    The insert is ``insert_snapshots_sql``'s, which leaves out (``skip``) the members the run
    already scored, so a re-run chunk inserts, and so records, nothing twice. The members whose
    gap on record changes are read once, with the band on record before the update (every part
    of the statement reads the same snapshot of the members); the events and the update both
    take them from there, so the update touches only those rows.
    """
    payload = d.json_object(
        ("member_id", "c.id"),
        ("from", "c.old_band"),
        ("to", "c.band"),
        ("gap", "c.gap"),
        ("run_id", "c.run_id"),
    )
    changed = LATEST_CHANGED.format(member="m", band="ins.band", gap="ins.gap")
    # The chunk's own members: without it the update read every member of the organization
    # to find the chunk's moved ones (a scan of 1,000,000 rows per chunk at 1M members).
    updated_in_scope = scope.clause("members_member.id")
    return f"""
        WITH ins AS (
            {insert_snapshots_sql(d, scope, skip)}
            RETURNING member_id, run_id, band, gap
        ), changed AS {d.materialized()} (
            SELECT m.id, m.success_band AS old_band, ins.band, ins.gap, ins.run_id
            FROM ins JOIN members_member m ON m.id = ins.member_id
            WHERE m.organization_id = %(org)s{scope.clause("m.id")} AND {changed}
        ), events AS (
            INSERT INTO tenancy_domainevent
                (organization_id, kind, subject_id, payload, occurred_at)
            SELECT %(org)s, 'member.band_changed', c.id, {payload}, %(computed_at)s
            FROM changed c WHERE c.old_band <> c.band
            RETURNING 1
        ), latest AS (
            UPDATE members_member
            SET success_gap = c.gap, success_band = c.band, success_computed_at = %(computed_at)s
            FROM changed c
            WHERE c.id = members_member.id
              AND members_member.organization_id = %(org)s{updated_in_scope}
            RETURNING 1
        )
        SELECT (SELECT COUNT(*) FROM ins), (SELECT COUNT(*) FROM events),
               (SELECT COUNT(*) FROM latest)"""


def band_events_sql(d: Dialect) -> str:
    """A domain event for each member of the run whose band differs from the one on record."""
    payload = d.json_object(
        ("member_id", "m.id"),
        ("from", "m.success_band"),
        ("to", "s.band"),
        ("gap", "s.gap"),
        ("run_id", "s.run_id"),
    )
    return f"""
        INSERT INTO tenancy_domainevent (organization_id, kind, subject_id, payload, occurred_at)
        SELECT %(org)s, 'member.band_changed', m.id, {payload}, %(computed_at)s
        FROM outcomes_successgapsnapshot s JOIN members_member m ON m.id = s.member_id
        WHERE s.organization_id = %(org)s AND s.run_id = %(run)s
          AND m.organization_id = %(org)s AND m.success_band <> s.band"""


MEMBER_LATEST_SQL = """
    UPDATE members_member
    SET success_gap = s.gap, success_band = s.band, success_computed_at = s.computed_at
    FROM outcomes_successgapsnapshot s
    WHERE s.organization_id = %(org)s AND s.run_id = %(run)s
      AND s.member_id = members_member.id AND members_member.organization_id = %(org)s
      AND """ + LATEST_CHANGED.format(member="members_member", band="s.band", gap="s.gap")


SCORING_WORK_MEM = "64MB"

# A chunk's writes land on pages the last checkpoint left clean (every member row whose gap
# moved, the week's snapshot indexes), and each page's first change after a checkpoint is
# logged whole: compressed with lz4, that log is about half the size. The setting is the
# server's (docker-compose.yml sets it) and a superuser's, or a role granted SET on it, to
# change for one transaction: asked for where the role may and the server has lz4, and
# otherwise left as the server has it.
COMPRESSED_PAGE_IMAGES = """
    SELECT set_config('wal_compression', 'lz4', true) FROM pg_settings
     WHERE name = 'wal_compression' AND 'lz4' = ANY(enumvals)
       AND has_parameter_privilege('wal_compression', 'SET')"""


def score_params(
    *,
    organization: Organization,
    today: dt.date,
    now: dt.datetime,
    configuration: dict[str, float],
    scope: MemberRange,
) -> dict:
    """The parameters ``scores_sql`` reads, as of ``today`` (the organization's date) and
    ``now``."""
    return {
        "org": organization.pk,
        "today": (today - EPOCH).days,
        "now": connection.ops.adapt_datetimefield_value(now),
        "now_days": (now - dt.datetime(1970, 1, 1, tzinfo=dt.UTC)).total_seconds() / 86400,
        "true": True,
        **configuration,
        **scope.params(),
    }


@dataclass(frozen=True)
class RunResult:
    run: SuccessGapRun
    members_scored: int
    band_changes: int


def success_gap_run_start(
    *, organization: Organization, now: dt.datetime | None = None, chunked: bool = False
) -> SuccessGapRun:
    """Open a computation run, recording the configuration it uses. A ``chunked`` run, scored
    by several tasks, also records how many members it must hold before it is finished."""
    now = now or timezone.now()
    configuration = scoring_configuration(organization=organization)
    local_today = timezone.localtime(now, organization.zone).date()
    return SuccessGapRun.objects.for_org(organization).create(
        organization=organization,
        computed_at=now,
        as_of=local_today,
        configuration=configuration.as_dict(),
        members_expected=Member.objects.for_org(organization).count() if chunked else None,
    )


@transaction.atomic
def success_gaps_compute(
    *, organization: Organization, run: SuccessGapRun, scope: MemberRange | None = None
) -> RunResult:
    """Score the members of ``scope`` (default: all) into ``run``: the snapshots, the band
    events and the members' latest gap in one statement on PostgreSQL, three on SQLite, then
    the run's count.

    Idempotent per run: members already scored in the run are skipped, so a retried chunk
    neither duplicates snapshots nor emits band changes twice.
    """
    scope = scope or MemberRange()
    d = Dialect(connection.vendor)
    params = {
        **score_params(
            organization=organization,
            today=run.as_of,
            now=run.computed_at,
            configuration=run.configuration,
            scope=scope,
        ),
        "run": run.pk,
        "computed_at": connection.ops.adapt_datetimefield_value(run.computed_at),
    }
    with connection.cursor() as cursor:
        if d.vendor == "postgresql":
            # Each parallel worker would build every hash table again; on a small box one
            # process doing the aggregates once is faster.
            cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
            # The six aggregates each hash or sort up to a row per member: with the default
            # 4 MB they spill to disk from about 30,000 members on.
            cursor.execute(f"SET LOCAL work_mem = '{SCORING_WORK_MEM}'")
            # The statement is planned and run once per chunk, so JIT would compile its
            # expressions every time (about 90 ms a chunk here) to save less than that.
            cursor.execute("SET LOCAL jit = off")
            if run.members_expected is not None:
                # A chunk of a fanned-out run does not wait for its commit to reach the disk
                # (about a quarter of its time on this machine). A crash in the moment after
                # loses the chunk whole, never part of it: the run then holds fewer members than
                # it expects, and the hourly repair scores the chunk again.
                cursor.execute("SET LOCAL synchronous_commit = off")
            if connection.pg_version >= 150000:  # has_parameter_privilege
                cursor.execute(COMPRESSED_PAGE_IMAGES)
        if d.vendor == "postgresql":
            scored, band_changes = _score_and_record(cursor, d, scope, params)
        else:
            cursor.execute(insert_snapshots_sql(d, scope), params)
            scored = cursor.rowcount
            cursor.execute(band_events_sql(d), params)
            band_changes = cursor.rowcount
            cursor.execute(MEMBER_LATEST_SQL, params)
        # The snapshots' member and run were checked by the insert itself, once for the
        # statement (outcomes/snapshot_keys.py): nothing long is left for the commit, so the
        # count below holds the run row's lock only for the moment it takes.
        cursor.execute(RUN_COUNT_SQL, {**params, "scored": scored})
        cursor.execute(RUN_FINISH_SQL, params)
    run.refresh_from_db(fields=["members_scored", "finished_at"])
    audit_record(
        organization=organization,
        action="success_gaps.compute",
        instance=run,
        changes={"members_scored": scored, "band_changes": band_changes},
    )
    return RunResult(run=run, members_scored=scored, band_changes=band_changes)


def _violates(cursor: CursorWrapper, exc: IntegrityError, constraint: str) -> bool:
    """Whether the database refused the statement for ``constraint``. PostgreSQL names the
    index that refused it: on a partitioned table, the partition's own index, whose ancestor
    is the constraint's."""
    diagnostics = getattr(exc.__cause__, "diag", None)
    name = getattr(diagnostics, "constraint_name", None)
    if name is None or name == constraint:
        return name == constraint
    cursor.execute(
        "SELECT EXISTS (SELECT 1 FROM pg_partition_ancestors(to_regclass(%s)) a"
        " JOIN pg_class c ON c.oid = a.relid WHERE c.relname = %s)",
        [name, constraint],
    )
    return cursor.fetchone()[0]


def _score_and_record(
    cursor: CursorWrapper, d: Dialect, scope: MemberRange, params: dict
) -> tuple[int, int]:
    """Run ``score_and_record_sql``: (snapshots inserted, band changes).

    First as a plain insert, which the one-per-member-per-run key guards: ``ON CONFLICT DO
    NOTHING`` inserts each row speculatively (a look-up of the key first, and one more log record
    per row), about a tenth of a chunk's time; and looking for each member's snapshot in the
    table being written (NOT EXISTS) is planned as a scan of the whole table per row when its
    statistics were taken empty (50 s for 100,000 members). Nearly always the run holds none of
    the chunk yet. When it does (a chunk sent again after it committed, or scored by another
    worker at this moment: the insert waits for that one's commit), the key refuses the insert,
    and the statement runs again with ``ON CONFLICT DO NOTHING``, within a savepoint so the rest
    of the transaction stands: it writes only what the run still lacks."""
    try:
        with transaction.atomic(savepoint=True):
            cursor.execute(score_and_record_sql(d, scope, skip=""), params)
            scored, band_changes, _ = cursor.fetchone()
        return scored, band_changes
    except IntegrityError as exc:
        if not _violates(cursor, exc, ONE_SNAPSHOT_PER_MEMBER_PER_RUN):
            raise
    logger.info("The run already holds members of this chunk: scoring what it lacks.")
    cursor.execute(score_and_record_sql(d, scope, skip=CONFLICTS_SKIPPED), params)
    scored, band_changes, _ = cursor.fetchone()
    return scored, band_changes


# The run's count of snapshots, raised by what this transaction inserted; finished once it
# holds every member it expects (a run with no expectation, scored by one statement, is
# finished by it). An increment, not a recount: two chunks of a run finishing together queue on
# the run row, and a recount's subquery, read with its statement's snapshot, would miss the rows
# of the chunk that committed meanwhile (tests/scoring/test_concurrent_chunks.py). The row lock
# serializes increments, and a re-run chunk inserts, so adds, nothing.
RUN_COUNT_SQL = """
    UPDATE outcomes_successgaprun SET members_scored = members_scored + %(scored)s
     WHERE id = %(run)s AND organization_id = %(org)s
"""
RUN_FINISH_SQL = """
    UPDATE outcomes_successgaprun SET finished_at = %(computed_at)s
     WHERE id = %(run)s AND organization_id = %(org)s AND finished_at IS NULL
       AND (members_expected IS NULL OR members_scored >= members_expected)
"""


def success_gaps_recompute(
    *,
    organization: Organization,
    member_ids: list[int] | None = None,
    now: dt.datetime | None = None,
) -> RunResult:
    """Open a run and score all members (or the ones given) in it."""
    run = success_gap_run_start(organization=organization, now=now)
    scope = MemberRange(ids=tuple(sorted(set(member_ids)))) if member_ids is not None else None
    return success_gaps_compute(organization=organization, run=run, scope=scope)


def success_gap_runs_short(
    *, older_than: dt.timedelta, repairs_below: int, now: dt.datetime | None = None
) -> list[SuccessGapRun]:
    """Chunked runs (every organization: a sweep's read) still unfinished ``older_than`` after
    they opened and repaired fewer than ``repairs_below`` times."""
    cutoff = (now or timezone.now()) - older_than
    return list(
        SuccessGapRun.objects.unscoped()
        .filter(
            finished_at__isnull=True,
            members_expected__isnull=False,
            computed_at__lt=cutoff,
            repairs__lt=repairs_below,
        )
        .only("pk", "organization_id")
        .order_by("pk")
    )


@transaction.atomic
def success_gap_run_repair(*, organization: Organization, run_id: int) -> bool:
    """Decide what an unfinished chunked run needs; True when its chunks must be sent again
    (counted in ``repairs``). A run holding as many members as the organization has now lost
    only members deleted meanwhile: it is finished as it stands, and needs nothing."""
    runs = SuccessGapRun.objects.for_org(organization).filter(pk=run_id, finished_at__isnull=True)
    run = runs.select_for_update().first()
    if run is None:
        return False
    members = Member.objects.for_org(organization).count()
    if run.members_scored >= members:
        runs.update(finished_at=run.computed_at, members_expected=members)
        return False
    runs.update(repairs=F("repairs") + 1)
    logger.warning(
        "Run %s holds %s of %s members: its chunks are sent again.",
        run_id,
        run.members_scored,
        run.members_expected,
    )
    return True


def member_id_chunks(*, organization: Organization, size: int) -> list[MemberRange]:
    """Split the organization's members into id ranges of ``size`` members (one query)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT id FROM (SELECT id, ROW_NUMBER() OVER (ORDER BY id) AS rn FROM members_member"
            " WHERE organization_id = %(org)s) numbered WHERE (rn - 1) %% %(size)s = 0 ORDER BY id",
            {"org": organization.pk, "size": size},
        )
        starts = [row[0] for row in cursor.fetchall()]
    ends: list[int | None] = [*starts[1:], None]
    return [MemberRange(low=low, high=high) for low, high in zip(starts, ends, strict=True)]


def band_changes_preview(
    *,
    organization: Organization,
    configuration: ScoringConfiguration,
    now: dt.datetime | None = None,
) -> dict[str, int]:
    """How many members a recompute with ``configuration`` would move into each band, counted
    against the band on record (``Member.success_band``), writing nothing.

    It is the engine's own ``scores_sql``, with the proposed weights and thresholds as its
    parameters, read in one grouped SELECT instead of inserted: so the figures are exactly what
    saving the configuration and recomputing would do, on every database.
    """
    now = now or timezone.now()
    d = Dialect(connection.vendor)
    scope = MemberRange()
    params = score_params(
        organization=organization,
        today=timezone.localtime(now, organization.zone).date(),
        now=now,
        configuration=configuration.as_dict(),
        scope=scope,
    )
    sql = f"""
        SELECT s.band, COUNT(*) FROM ({scores_sql(d, scope)}) s
        JOIN members_member m ON m.id = s.member_id
        WHERE m.organization_id = %(org)s AND m.success_band <> s.band
        GROUP BY s.band"""
    moves = dict.fromkeys(Band.values, 0)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        for band, count in cursor.fetchall():
            moves[band] = count
    return moves
