"""bench/bandwidth: the office-bandwidth page and the monthly report over a demo month.

The store (SQLite in a temporary directory, or PostgreSQL with --pg URL) gets the demo
inventory's last month and this month from `synthesize_month` (5-minute and hourly rollups as
the poller writes them) up to now (the synth writes the whole month: the rows after now go),
then the 5-minute rows older than 35 days are pruned as `simpul
serve` does: the closed month is read partly from hourly rows, as in production.
Rows (FastAPI TestClient, a logged-in viewer, the admin app of `simpul serve`):
- GET /login: the floor every page pays (middleware, session, template): the baseline.
- GET /bandwidth?month=<closed> cold (nothing cached) and warm (median of the next --repeat
  requests), the open month (this one) the same way;
- the monthly report of the closed month (build + HTML + CSV + PDF, as `simpul report
  monthly` writes them).
Run: `uv run python bench/bandwidth/bench.py [--repeat 5] [--pg postgresql+psycopg://...]`.
Target: /bandwidth for a closed month <= 300 ms warm.
Measured 2026-11-27 (2 shared cores, SQLite, back to back; ms cold / warm, x /login warm):
  before the month cache: closed 1,718 / 1,485 (20.9x), open 6,593 / 7,435 (104.6x), report
  1,604 / 1,330 (18.7x); after: closed 1,569 / 129 (1.8x), open 7,013 / 5,589 (79.6x), report
  2,063 / 442 (6.3x). Target met. The open month is computed on every request.
The open month cached per closed day (controller/bandwidth/open_month.py), the store filled
up to now only, measured 2026-11-27 back to back against the code before it on the same fill
(ms cold / warm, x /login warm):
  open month: before 11,097 / 12,389 (99.8x), after 5,945 / 671 (8.5x): warm 18.5x faster;
  closed month (its code unchanged but the plan's saturated hours): 1,918 / 819 -> 1,498 / 664.
A closed month's saturated hours kept while its cached figures are (recommend.with_saturation),
measured 2026-11-27 on the same kept store (--keep), ms warm, x /login warm:
  closed month: 1,268 (8.0x) -> 175 (1.2x). Target met again.
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import delete, text  # noqa: E402

from controller.accountability.costs import with_costs  # noqa: E402
from controller.bandwidth.reports import build_monthly_report, write_monthly_report  # noqa: E402
from controller.bandwidth.rollups import prune  # noqa: E402
from controller.bandwidth.synth import synthesize_month  # noqa: E402
from controller.context import Context  # noqa: E402
from controller.inventory import check_inventory  # noqa: E402
from controller.secrets import generate_missing  # noqa: E402
from controller.settings import Settings  # noqa: E402
from controller.store.bandwidth import Bandwidth1h, Bandwidth5m  # noqa: E402
from controller.store.users import add_user  # noqa: E402
from controller.web.app import create_admin_app  # noqa: E402

PASSWORD = "bench-password-123"


def _login(client: TestClient) -> None:
    page = client.get("/login")
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    data = {"username": "bench", "password": PASSWORD}
    if token:
        data["csrf_token"] = token.group(1)
    response = client.post("/login", data=data, follow_redirects=False)
    if response.status_code != 303:
        raise SystemExit(f"login failed: {response.status_code} {response.text[:300]}")


def _timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def _get(client: TestClient, path: str) -> Callable[[], object]:
    def call() -> object:
        response = client.get(path)
        if response.status_code != 200:
            raise SystemExit(f"GET {path}: {response.status_code} {response.text[:300]}")
        return response

    return call


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--pg", help="a PostgreSQL URL instead of a temporary SQLite file")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the filled SQLite store in DIR and reuse it on the next run")
    parser.add_argument("--profile", metavar="ROW", help="cProfile one row: closed, open, report")
    args = parser.parse_args()
    now = datetime.now(UTC)
    this_month = now.date().replace(day=1)
    closed = (this_month - timedelta(days=1)).replace(day=1)
    with tempfile.TemporaryDirectory(prefix="simpul-bench-bandwidth-") as tmpdir:
        tmp = Path(tmpdir)
        data = args.keep or tmp / "data"
        filled = (data / "simpul.db").exists() and not args.pg
        secrets_file = tmp / "secrets.yaml"
        generate_missing(secrets_file, check_inventory(ROOT / "inventory")[0].secret_names())
        settings = Settings(data_dir=data, inventory_dir=ROOT / "inventory",
                            secrets_file=secrets_file, allowed_hosts="testserver",
                            **({"database_url": args.pg} if args.pg else {}))
        ctx = Context.open(settings)
        start = time.perf_counter()
        rows = 0
        if not filled:
            rows = sum(synthesize_month(ctx.store, ctx.inventory, m)
                       for m in (closed, this_month))
            with ctx.store.session() as session:
                for table in (Bandwidth5m, Bandwidth1h):  # what a real store holds by now
                    session.execute(delete(table).where(table.ts >= now.timestamp()))
                prune(session, now.timestamp())
                add_user(session, "bench", PASSWORD, "viewer", actor="bench")
        fill_s = time.perf_counter() - start
        client = TestClient(create_admin_app(ctx))
        _login(client)
        sites = sum(1 for s in ctx.inventory.sites.values() if s.kind != "noc")

        def report() -> None:
            with ctx.store.session() as session:
                built = with_costs(session, build_monthly_report(session, ctx.inventory, closed))
            write_monthly_report(built, tmp / "reports")

        cases: list[tuple[str, str, Callable[[], object]]] = [
            ("GET /login (baseline)", "login", _get(client, "/login")),
            (f"GET /bandwidth?month={closed:%Y-%m}", "closed",
             _get(client, f"/bandwidth?month={closed:%Y-%m}")),
            (f"GET /bandwidth?month={this_month:%Y-%m} (open)", "open",
             _get(client, f"/bandwidth?month={this_month:%Y-%m}")),
            (f"report monthly {closed:%Y-%m} (html+csv+pdf)", "report", report),
        ]
        results = []
        baseline = None
        for label, key, fn in cases:
            if args.profile == key:
                profiler = cProfile.Profile()
                profiler.runcall(fn)
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(35)
            with ctx.store.session() as session:  # cold: nothing cached
                session.execute(text("DELETE FROM bandwidth_month_figures"))
                session.execute(text("DELETE FROM bandwidth_day_parts"))
            cold = _timed(fn)
            warm = statistics.median(_timed(fn) for _ in range(args.repeat))
            if baseline is None:
                baseline = warm
            results.append((label, cold, warm))
        ctx.close()
    filling = (f"{rows:,} five-minute rows written for {closed:%Y-%m} and {this_month:%Y-%m} "
               f"in {fill_s:.0f} s, then pruned to 35 days" if rows else
               f"the store in {args.keep} reused")
    print(f"store: {'PostgreSQL' if args.pg else 'SQLite'}; demo inventory, {sites} sites; "
          f"{filling}; warm = median of {args.repeat}")
    print(f"{'what':<44} {'cold ms':>9} {'warm ms':>9} {'x baseline':>11}")
    for label, cold, warm in results:
        ratio = warm / baseline if baseline else float("nan")
        print(f"{label:<44} {cold * 1000:9.1f} {warm * 1000:9.1f} {ratio:11.1f}")


if __name__ == "__main__":
    main()
