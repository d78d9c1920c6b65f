"""Load benchmark: what MSMs and integrators feel when a busy organization uses Tandem at once.

Prepares PostgreSQL (migrate; ``seed_demo`` tops the first demo organization up to ``--members``
members with ``--activity`` engagement + context rows each, about a million for 10,000 members;
every member scored), starts gunicorn as in production (DEBUG off, persistent connections,
``--workers`` processes) and runs two phases against it:

(a) ``--clients`` clients (default 100), each signed in as one of the organization's MSMs or
    holding a read key, each waiting about a second (0.5–1.5 s) between requests, for
    ``--seconds`` after a warm-up. Requests are drawn from the mix below: My book, Member 360 of
    a random member, the member list (a random page, filter or search) and the API's list
    endpoints. Prints count, p50, p95, max and errors per kind and overall.
(b) Saturated: ``--saturate`` clients with no think time for ``--saturate-seconds``: the most
    requests per second the server gives, with their p95.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/tandem_load_bench python benchmarks/load.py
    make bench-load

Targets (issue 8): p95 ≤ 100 ms and no errors in (a); at least 150 requests/s in (b). A request
is an error when it raises, times out or answers anything but 200. Needs PostgreSQL: a missing
database is created; the data is built once (minutes) and reused by later runs.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

from benchmarks.support.database import vacuum_analyze  # noqa: E402
from benchmarks.support.server import (  # noqa: E402
    ensure_postgres_database,
    free_port,
    start_server,
)

TARGET_P95_MS = 100
TARGET_RPS = 150
SLUG = "riverbend"  # the first demo organization, the one seed_demo --members sizes
SEARCHES = ("an", "son", "lee", "mar", "crm-00", "@")
BANDS = ("at_risk", "watch", "on_track", "no_outcome")
SORTS = ("risk", "gap", "renewal", "name")


@dataclass(frozen=True)
class Fixture:
    """What the clients need: sessions of MSMs, a read key, and members to open."""

    sessions: list[str]
    api_key: str
    member_ids: list[int]
    members: int
    activity_rows: int


def prepare(members: int, activity: int) -> Fixture:
    """Build (or reuse) the data, score it, and sign the clients in."""
    import django

    django.setup()
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore
    from django.core.management import call_command

    from engagement.models import ContextEvent, Engagement
    from members.models import Member
    from outcomes.models import SuccessGapRun
    from outcomes.scoring import success_gaps_recompute
    from tenancy.models import Organization, Seat
    from tenancy.scope import organization_scope
    from tenancy.services import api_key_create

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    with open(os.devnull, "w") as quiet:
        call_command("seed_demo", members=members, activity=activity, stdout=quiet)
    organization = Organization.objects.get(slug=SLUG)
    with organization_scope(organization):
        if not SuccessGapRun.objects.filter(finished_at__isnull=False).exists():
            success_gaps_recompute(organization=organization)
        vacuum_analyze()
        print(f"data ready in {time.perf_counter() - started:.0f}s")
        seats = list(
            Seat.objects.filter(role__in=[Seat.Role.MSM, Seat.Role.ADMIN])
            .select_related("user")
            .order_by("pk")
        )
        sessions = []
        for seat in seats:
            session = SessionStore()
            session[SESSION_KEY] = str(seat.user.pk)
            session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
            session[HASH_SESSION_KEY] = seat.user.get_session_auth_hash()
            session.create()
            sessions.append(session.session_key)
        _, secret = api_key_create(
            organization=organization, name="load benchmark", scopes=["read"], created_by=None
        )
        member_ids = list(Member.objects.values_list("pk", flat=True))
        rows = Engagement.objects.count() + ContextEvent.objects.count()
    return Fixture(sessions, secret, member_ids, len(member_ids), rows)


def request_mix(fixture: Fixture) -> list[tuple[str, int, object]]:
    """(kind, weight, maker) — a maker turns a random stream into a path."""
    base = f"/o/{SLUG}"

    def book(rng: random.Random) -> str:
        return f"{base}/book/" if rng.random() < 0.7 else f"{base}/book/?sort={rng.choice(SORTS)}"

    def member_360(rng: random.Random) -> str:
        return f"{base}/members/{rng.choice(fixture.member_ids)}/"

    def member_list(rng: random.Random) -> str:
        pick = rng.random()
        if pick < 0.4:
            return f"{base}/members/?page={rng.randint(1, 40)}"
        if pick < 0.7:
            return f"{base}/members/?band={rng.choice(BANDS)}&sort={rng.choice(SORTS)}"
        return f"{base}/members/?q={rng.choice(SEARCHES)}"

    def api(resource: str, filters: bool = True):
        def make(rng: random.Random) -> str:
            if filters and rng.random() < 0.5:
                return f"/api/v1/{resource}?member={rng.choice(fixture.member_ids)}"
            return f"/api/v1/{resource}?page_size=50"

        return make

    def api_members(rng: random.Random) -> str:
        return f"/api/v1/members?page={rng.randint(1, 200)}"

    return [
        ("My book", 25, book),
        ("Member 360", 30, member_360),
        ("member list", 20, member_list),
        ("API members", 7, api_members),
        ("API engagements", 6, api("engagements")),
        ("API context events", 6, api("context-events")),
        ("API goals", 6, api("goals")),
    ]


@dataclass
class Results:
    """Latencies (ms) and errors per kind of request, shared by the client threads."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)
    # CPU seconds the clients themselves used (warm-up included): they share the machine.
    client_cpu: float = 0.0

    def add(self, kind: str, ms: float, error: str | None) -> None:
        with self.lock:
            self.latencies[kind].append(ms)
            if error:
                self.errors[kind].append(error)


def get(port: int, path: str, headers: dict[str, str]) -> tuple[float, str | None]:
    """One GET on a new connection (gunicorn's sync workers close each one): ms, error."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        response.read()
        error = None if response.status == 200 else f"HTTP {response.status} {path}"
    except (OSError, http.client.HTTPException) as exc:
        error = f"{type(exc).__name__} {path}"
    finally:
        connection.close()
    return (time.perf_counter() - started) * 1000, error


def run_phase(
    port: int,
    fixture: Fixture,
    *,
    clients: int,
    think: tuple[float, float],
    warmup: float,
    seconds: float,
) -> tuple[Results, float]:
    """``clients`` threads requesting from the mix until the time is up; only requests that
    start after the warm-up are kept. Returns the results and the measured seconds."""
    mix = request_mix(fixture)
    kinds = [kind for kind, _, _ in mix]
    weights = [weight for _, weight, _ in mix]
    makers = {kind: maker for kind, _, maker in mix}
    results = Results()
    start = time.monotonic()
    measure_from, stop_at = start + warmup, start + warmup + seconds

    def client(number: int) -> None:
        rng = random.Random(number)
        cookie = {"Cookie": f"sessionid={fixture.sessions[number % len(fixture.sessions)]}"}
        bearer = {"Authorization": f"Bearer {fixture.api_key}"}
        time.sleep(rng.uniform(0, max(think[1], 0.05)))  # clients arrive spread out
        while (now := time.monotonic()) < stop_at:
            kind = rng.choices(kinds, weights)[0]
            path = makers[kind](rng)
            ms, error = get(port, path, bearer if path.startswith("/api/") else cookie)
            if now >= measure_from:
                results.add(kind, ms, error)
            if think[1]:
                time.sleep(rng.uniform(*think))

    threads = [threading.Thread(target=client, args=(n,), daemon=True) for n in range(clients)]
    cpu = time.process_time()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    results.client_cpu = time.process_time() - cpu
    return results, seconds


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def print_table(results: Results, seconds: float) -> tuple[float, int, float]:
    """The per-kind table; returns the overall p95, errors and requests/s."""
    print(
        f"{'request':<22}{'count':>8}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'max ms':>9}"
        f"{'errors':>8}"
    )
    everything: list[float] = []
    errors = 0
    for kind, values in sorted(results.latencies.items()):
        everything += values
        errors += len(results.errors[kind])
        print(
            f"{kind:<22}{len(values):>8,}{len(values) / seconds:>8.1f}"
            f"{statistics.median(values):>9.0f}{percentile(values, 0.95):>9.0f}"
            f"{max(values):>9.0f}{len(results.errors[kind]):>8}"
        )
    if not everything:
        raise SystemExit("no request was measured")
    p95, rate = percentile(everything, 0.95), len(everything) / seconds
    print(
        f"{'all':<22}{len(everything):>8,}{rate:>8.1f}{statistics.median(everything):>9.0f}"
        f"{p95:>9.0f}{max(everything):>9.0f}{errors:>8}"
    )
    for kind, messages in results.errors.items():
        for message in sorted(set(messages))[:3]:
            print(f"  error in {kind}: {message}")
    print(f"the clients' own CPU: {results.client_cpu:.1f} s over the phase, warm-up included")
    return p95, errors, rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--members", type=int, default=10_000)
    parser.add_argument("--activity", type=int, default=122, help="rows per member (≈1M)")
    # One more process than cores: on 2 cores, 3 workers served more than 5 (less switching).
    parser.add_argument("--workers", type=int, default=(os.cpu_count() or 1) + 1)
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--warmup", type=float, default=10)
    parser.add_argument("--saturate", type=int, default=0, help="clients (default 2 × workers)")
    parser.add_argument("--saturate-seconds", type=float, default=30)
    args = parser.parse_args()
    if not os.environ.get("DATABASE_URL", "").startswith(("postgres://", "postgresql://")):
        parser.error("set DATABASE_URL to a PostgreSQL database (make bench-load does)")
    ensure_postgres_database()
    fixture = prepare(args.members, args.activity)
    saturate = args.saturate or 2 * args.workers
    print(
        f"organization {SLUG}: {fixture.members:,} members, {fixture.activity_rows:,} engagement "
        f"and context rows; gunicorn with {args.workers} workers on {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="tandem-load-") as var_dir:
        server = start_server(port := free_port(), args.workers, var_dir)
        try:
            print(
                f"\n(a) {args.clients} clients, 0.5–1.5 s think time, {args.seconds:.0f}s "
                f"measured after {args.warmup:.0f}s warm-up"
            )
            results, seconds = run_phase(
                port,
                fixture,
                clients=args.clients,
                think=(0.5, 1.5),
                warmup=args.warmup,
                seconds=args.seconds,
            )
            p95, errors, _ = print_table(results, seconds)
            print(
                f"\n(b) saturated: {saturate} clients, no think time, {args.saturate_seconds:.0f}s"
            )
            results, seconds = run_phase(
                port,
                fixture,
                clients=saturate,
                think=(0, 0),
                warmup=3,
                seconds=args.saturate_seconds,
            )
            _, saturated_errors, rate = print_table(results, seconds)
        finally:
            server.terminate()
            server.wait(timeout=30)
    met = p95 <= TARGET_P95_MS and errors == 0 and saturated_errors == 0 and rate >= TARGET_RPS
    print(
        f"\np95 {p95:.0f} ms (target ≤ {TARGET_P95_MS}), errors {errors + saturated_errors} "
        f"(target 0), saturated {rate:.0f} requests/s (target ≥ {TARGET_RPS}): "
        f"{'met' if met else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
