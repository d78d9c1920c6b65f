"""Foreign-key join paths include the organization: every tenant-to-tenant foreign key has a
composite twin ``(organization_id, <fk>) -> (organization_id, id)``, planned from the models and,
on PostgreSQL, carried by the database (added after every migrate, so by the test database's
creation too). SQLite cannot add constraints to existing tables: there the plan is checked."""

from __future__ import annotations

import io

import pytest
from django.apps import apps
from django.core.management import call_command
from django.db import IntegrityError, connection, transaction

from tenancy.join_constraints import (
    MAX_NAME_LENGTH,
    JoinConstraintError,
    JoinPlan,
    OrganizationForeignKey,
    ensure_join_constraints,
    join_plan,
    organization_vouches,
)
from tenancy.models import TenantModel
from tests.factories import GoalFactory, MemberFactory
from tests.test_schema_rules import OUR_APPS

GOAL_MEMBER = ("outcomes_goal", "member_id", "members_member")


def tenant_to_tenant_foreign_keys() -> set[tuple[str, str, str]]:
    """An independent walk: every many-to-one or one-to-one field that owns a column, from a
    tenant model of our apps to a tenant model, as (table, column, target table)."""
    found = set()
    for app in OUR_APPS:
        for model in apps.get_app_config(app).get_models():
            if not issubclass(model, TenantModel):
                continue
            for field in model._meta.get_fields():
                if (
                    (field.many_to_one or field.one_to_one)
                    and field.concrete
                    and field.model is model
                    and issubclass(field.related_model, TenantModel)
                    and field.db_constraint  # the plan honours an explicit "no constraint"
                ):
                    found.add(
                        (model._meta.db_table, field.column, field.related_model._meta.db_table)
                    )
    return found


def planned(plan: JoinPlan) -> set[tuple[str, str, str]]:
    return {(fk.table, fk.column, fk.target_table) for fk in plan.foreign_keys}


def fk_of(plan: JoinPlan, table: str, column: str) -> OrganizationForeignKey:
    return next(fk for fk in plan.foreign_keys if (fk.table, fk.column) == (table, column))


def assert_well_formed(plan: JoinPlan) -> None:
    names = plan.names
    assert len(names) == len(set(names)), "constraint names must be unique"
    assert all(len(name) <= MAX_NAME_LENGTH for name in names), [
        name for name in names if len(name) > MAX_NAME_LENGTH
    ]
    keyed = {(key.table, key.columns) for key in plan.keys}
    for fk in plan.foreign_keys:
        assert fk.columns == ("organization_id", fk.column)
        assert fk.target_columns == ("organization_id", "id")
        assert (fk.target_table, fk.target_columns) in keyed, f"{fk.name} has no key to point at"
        sql = fk.sql(connection)
        assert "DEFERRABLE INITIALLY DEFERRED" in sql and "NO ACTION" in sql
    assert join_plan() == plan, "the plan must be deterministic"


def test_plan_covers_every_tenant_to_tenant_foreign_key():
    expected = tenant_to_tenant_foreign_keys()
    assert GOAL_MEMBER in expected, "the independent walk missed a Goal's member"
    assert planned(join_plan()) == expected


def test_plan_is_well_formed():
    assert_well_formed(join_plan())


def test_plan_gives_every_referenced_table_one_unique_key():
    plan = join_plan()
    assert {key.table for key in plan.keys} == {fk.target_table for fk in plan.foreign_keys}
    assert {key.columns for key in plan.keys} == {("organization_id", "id")}


# Each row: (table, key columns, target table, target columns, contype, deferrable, deferred,
# match type, on delete, on update, validated).
PG_CONSTRAINTS_SQL = """
SELECT rel.relname,
       ARRAY(SELECT att.attname FROM unnest(con.conkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = k.attnum
             ORDER BY k.n),
       COALESCE(frel.relname, ''),
       ARRAY(SELECT att.attname FROM unnest(con.confkey) WITH ORDINALITY AS k(attnum, n)
             JOIN pg_attribute att ON att.attrelid = con.confrelid AND att.attnum = k.attnum
             ORDER BY k.n),
       con.contype, con.condeferrable, con.condeferred, con.confmatchtype,
       con.confdeltype, con.confupdtype, con.convalidated
FROM pg_constraint con
JOIN pg_class rel ON rel.oid = con.conrelid
LEFT JOIN pg_class frel ON frel.oid = con.confrelid
WHERE con.conname = %s
"""


def pg_constraint(name: str) -> tuple | None:
    with connection.cursor() as cursor:
        cursor.execute(PG_CONSTRAINTS_SQL, [name])
        return cursor.fetchone()


@pytest.mark.django_db
def test_the_database_carries_every_planned_constraint():
    plan = join_plan()
    if connection.vendor != "postgresql":
        assert_well_formed(plan)
        assert ensure_join_constraints() == JoinPlan(keys=(), foreign_keys=())
        return
    # Nothing here adds them: the test database's creation (migrate -> post_migrate) did.
    for key in plan.keys:
        row = pg_constraint(key.name)
        assert row is not None, f"{key.name} is missing"
        assert row[:2] == (key.table, ["organization_id", "id"]) and row[4] == "u"
    for fk in plan.foreign_keys:
        row = pg_constraint(fk.name)
        assert row is not None, f"{fk.name} is missing"
        assert row[:5] == (
            fk.table,
            ["organization_id", fk.column],
            fk.target_table,
            ["organization_id", "id"],
            "f",
        ), fk.name
        # Deferrable, initially deferred, MATCH SIMPLE, NO ACTION both ways, validated.
        assert row[5:] == (True, True, "s", "a", "a", True), fk.name
    # Django's single-column twins are gone: the composite keys say all they said.
    assert single_column_foreign_keys(plan) == []


SINGLE_COLUMN_FKS_SQL = """
SELECT rel.relname, att.attname, frel.relname, con.conname
FROM pg_constraint con
JOIN pg_class rel ON rel.oid = con.conrelid
JOIN pg_class frel ON frel.oid = con.confrelid
JOIN pg_attribute att ON att.attrelid = con.conrelid AND att.attnum = con.conkey[1]
WHERE con.contype = 'f' AND cardinality(con.conkey) = 1
"""


def single_column_foreign_keys(plan: JoinPlan) -> list[tuple[str, str, str, str]]:
    """The one-column foreign keys the database has on the planned (table, column, target)s."""
    with connection.cursor() as cursor:
        cursor.execute(SINGLE_COLUMN_FKS_SQL)
        return [row for row in cursor.fetchall() if row[:3] in planned(plan)]


def commit(sql: str, params: list, *, check: bool = False) -> None:
    """Run one statement in a transaction (a savepoint inside a test's own); ``check`` runs the
    deferred checks there and then (SET CONSTRAINTS ALL IMMEDIATE), as the commit would."""
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)
        if check:
            connection.check_constraints()


@pytest.mark.django_db(transaction=True)
def test_a_raw_update_into_another_organization_fails_at_commit(tenant_a, tenant_b):
    plan = join_plan()
    if connection.vendor != "postgresql":
        assert_well_formed(plan)
        return
    goal = GoalFactory(
        desired_outcome__member=MemberFactory(organization=tenant_a.organization),
    )
    own = MemberFactory(organization=tenant_a.organization)
    foreign = MemberFactory(organization=tenant_b.organization)
    update = "UPDATE outcomes_goal SET member_id = %s WHERE id = %s"

    commit(update, [own.pk, goal.pk])  # same organization: commits
    with pytest.raises(IntegrityError, match=fk_of(plan, "outcomes_goal", "member_id").name):
        commit(update, [foreign.pk, goal.pk])  # deferred: fails at commit, not before
    with connection.cursor() as cursor:
        cursor.execute("SELECT member_id FROM outcomes_goal WHERE id = %s", [goal.pk])
        assert cursor.fetchone() == (own.pk,)


@pytest.mark.django_db
def test_a_raw_insert_into_another_organization_fails_when_checked(tenant_a, tenant_b):
    plan = join_plan()
    if connection.vendor != "postgresql":
        assert_well_formed(plan)
        return
    foreign = MemberFactory(organization=tenant_b.organization)
    insert = (
        "INSERT INTO members_membershipevent (organization_id, member_id, kind, occurred_on, "
        "amount, tier, note, recorded_at) VALUES (%s, %s, 'renew', '2025-01-31', 0, '', '', now())"
    )
    name = fk_of(plan, "members_membershipevent", "member_id").name
    with pytest.raises(IntegrityError, match=name):
        commit(insert, [tenant_a.organization.pk, foreign.pk], check=True)
    commit(insert, [tenant_b.organization.pk, foreign.pk], check=True)


@pytest.mark.django_db
def test_a_missing_row_still_fails_without_the_single_column_key(tenant_a):
    """The composite key alone refuses a member id that does not exist at all."""
    if connection.vendor != "postgresql":
        assert_well_formed(join_plan())
        return
    insert = (
        "INSERT INTO members_membershipevent (organization_id, member_id, kind, occurred_on, "
        "amount, tier, note, recorded_at) VALUES (%s, %s, 'renew', '2025-01-31', 0, '', '', now())"
    )
    name = fk_of(join_plan(), "members_membershipevent", "member_id").name
    with pytest.raises(IntegrityError, match=name):
        commit(insert, [tenant_a.organization.pk, 2**62], check=True)


@pytest.mark.django_db
def test_ensure_drops_a_single_column_key_django_puts_back():
    """A later migration that alters a foreign key makes Django add its own constraint again;
    the next run drops it and says so."""
    plan = join_plan()
    if connection.vendor != "postgresql":
        assert ensure_join_constraints() == JoinPlan(keys=(), foreign_keys=())
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE outcomes_goal ADD CONSTRAINT goal_member_single FOREIGN KEY (member_id) "
            "REFERENCES members_member (id) DEFERRABLE INITIALLY DEFERRED"
        )
    assert [row[3] for row in single_column_foreign_keys(plan)] == ["goal_member_single"]

    assert ensure_join_constraints() == JoinPlan(
        keys=(), foreign_keys=(), superseded=(("outcomes_goal", "goal_member_single"),)
    )
    assert single_column_foreign_keys(plan) == []
    assert pg_constraint(fk_of(plan, "outcomes_goal", "member_id").name) is not None


def drop(constraint_table: str, name: str, *, cascade: bool = False) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f'ALTER TABLE "{constraint_table}" DROP CONSTRAINT "{name}"'
            + (" CASCADE" if cascade else "")
        )


@pytest.mark.django_db
def test_ensure_adds_only_what_is_missing_unique_key_first():
    plan = join_plan()
    if connection.vendor != "postgresql":
        assert_well_formed(plan)
        assert ensure_join_constraints() == JoinPlan(keys=(), foreign_keys=())
        return
    assert ensure_join_constraints() == JoinPlan(keys=(), foreign_keys=())
    # Dropping the goals' key takes every foreign key that points at goals with it (DDL is
    # transactional in PostgreSQL: the test's rollback puts it all back).
    goal_key = next(key for key in plan.keys if key.table == "outcomes_goal")
    drop("outcomes_goal", goal_key.name, cascade=True)
    pointing_at_goals = tuple(fk for fk in plan.foreign_keys if fk.target_table == "outcomes_goal")
    assert len(pointing_at_goals) >= 4

    added = ensure_join_constraints()
    assert added == JoinPlan(keys=(goal_key,), foreign_keys=pointing_at_goals)
    assert all(pg_constraint(name) for name in added.names)
    assert ensure_join_constraints() == JoinPlan(keys=(), foreign_keys=())


@pytest.mark.django_db
def test_migrate_puts_a_missing_foreign_key_back():
    """The post_migrate wiring itself: what a new foreign key gets on the next migrate."""
    plan = join_plan()
    if connection.vendor != "postgresql":
        assert_well_formed(plan)
        return
    fk = fk_of(plan, "outcomes_goal", "member_id")
    drop(fk.table, fk.name)
    assert pg_constraint(fk.name) is None
    out = io.StringIO()
    call_command("migrate", verbosity=1, interactive=False, stdout=out)
    assert pg_constraint(fk.name) is not None
    assert "1 composite foreign keys" in out.getvalue()


@pytest.mark.django_db
def test_existing_rows_across_organizations_stop_the_constraint_with_the_query(tenant_a, tenant_b):
    plan = join_plan()
    if connection.vendor != "postgresql":
        assert_well_formed(plan)
        return
    fk = fk_of(plan, "outcomes_goal", "member_id")
    goal = GoalFactory(desired_outcome__member=MemberFactory(organization=tenant_a.organization))
    foreign = MemberFactory(organization=tenant_b.organization)
    # PostgreSQL alters no table with checks still pending: run them, as a commit would.
    connection.check_constraints()
    drop(fk.table, fk.name)
    commit(
        "UPDATE outcomes_goal SET member_id = %s WHERE id = %s", [foreign.pk, goal.pk], check=True
    )

    with pytest.raises(JoinConstraintError, match=fk.name) as caught:
        ensure_join_constraints()
    query = str(caught.value).split("Find them with: ")[1]
    with connection.cursor() as cursor:
        cursor.execute(query)
        assert [row[0] for row in cursor.fetchall()] == [goal.pk]
    assert pg_constraint(fk.name) is None


# --- A table's own key to the organization, vouched for by a NOT NULL composite key ---------


def test_vouching_follows_chains_to_a_table_that_keeps_its_key():
    columns = dict.fromkeys("abcdefg", "organization_id")
    required = {
        "a": set(),  # nothing required: keeps its key and anchors the others
        "b": {"a"},
        "c": {"b"},  # through b, anchored through a
        "d": {"d"},  # only itself (a NOT NULL self-reference): keeps its key
        "e": {"f"},  # e and f vouch only for each other: a ring keeps its keys
        "f": {"e"},
        "g": {"e", "a"},  # one way out of the ring is enough
    }
    vouches = {v.table: v.through for v in organization_vouches(required, columns)}
    assert vouches == {"b": "a", "c": "b", "g": "a"}


def test_the_plan_vouches_only_through_not_null_keys():
    plan = join_plan()
    by_table = {v.table: v for v in plan.vouched}
    assert by_table["members_membershipevent"].through == "members_member"
    assert by_table["outcomes_condition"].through == "outcomes_goal"
    # The member table's keys are all nullable or absent: it keeps its own (it anchors the rest).
    assert "members_member" not in by_table
    for vouch in plan.vouched:
        model = next(m for m in apps.get_models() if m._meta.db_table == vouch.table)
        reaching = [
            f
            for f in model._meta.concrete_fields
            if f.many_to_one and f.related_model._meta.db_table == vouch.through
        ]
        assert reaching and any(not f.null for f in reaching), vouch


ORGANIZATION_FKS_SQL = """
SELECT rel.relname FROM pg_constraint con
JOIN pg_class rel ON rel.oid = con.conrelid
JOIN pg_class frel ON frel.oid = con.confrelid
WHERE con.contype = 'f' AND frel.relname = 'tenancy_organization'
"""


@pytest.mark.django_db
def test_vouched_tables_lose_their_organization_key_and_the_others_keep_it():
    plan = join_plan()
    if connection.vendor != "postgresql":
        assert plan.vouched  # planned alike; SQLite keeps Django's keys
        return
    with connection.cursor() as cursor:
        cursor.execute(ORGANIZATION_FKS_SQL)
        keeping = {row[0] for row in cursor.fetchall()}
    vouched = {v.table for v in plan.vouched}
    assert not keeping & vouched
    tenant_tables = {fk.table for fk in plan.foreign_keys} | {k.table for k in plan.keys}
    assert tenant_tables - vouched <= keeping, "an anchoring table lost its organization key"


@pytest.mark.django_db
def test_a_vouched_table_still_refuses_an_organization_that_does_not_exist(tenant_a):
    """No key to the organization table on the snapshot: the composite key to the member
    refuses the row, because no member has that organization."""
    if connection.vendor != "postgresql":
        assert_well_formed(join_plan())
        return
    member = MemberFactory(organization=tenant_a.organization)
    insert = (
        "INSERT INTO members_membershipevent (organization_id, member_id, kind, occurred_on, "
        "amount, tier, note, recorded_at) VALUES (%s, %s, 'renew', '2025-01-31', 0, '', '', now())"
    )
    name = fk_of(join_plan(), "members_membershipevent", "member_id").name
    with pytest.raises(IntegrityError, match=name):
        commit(insert, [2**62, member.pk], check=True)
    commit(insert, [tenant_a.organization.pk, member.pk], check=True)


@pytest.mark.django_db
def test_ensure_drops_an_organization_key_django_puts_back():
    if connection.vendor != "postgresql":
        assert ensure_join_constraints() == JoinPlan(keys=(), foreign_keys=())
        return
    with connection.cursor() as cursor:
        cursor.execute(
            "ALTER TABLE members_membershipevent ADD CONSTRAINT event_org_single "
            "FOREIGN KEY (organization_id) REFERENCES tenancy_organization (id) "
            "DEFERRABLE INITIALLY DEFERRED"
        )
    added = ensure_join_constraints()
    assert added.superseded == (("members_membershipevent", "event_org_single"),)
    assert pg_constraint("event_org_single") is None
