"""Time series for the graphs (controller/web/static/charts.js): use in bit/s per bucket and
the allocation in force as steps, over 1 h, 24 h, 7 d or 30 d."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from controller.allocation_history import load_histories
from controller.bandwidth.series import RangeName, Series, site_series
from controller.inventory import TZ_ABBREV
from controller.schedules import holiday_dates
from controller.web.api.types import AUTH_ERRORS
from controller.web.deps import Viewer, get_ctx

router = APIRouter(tags=["bandwidth"])


class StepOut(BaseModel):
    t: int = Field(description="UTC epoch seconds from which this allocation was in force")
    down_bps: int
    up_bps: int


class SeriesOut(BaseModel):
    """Columns of equal length: `t[i]` is a bucket's start, `in_bps[i]`/`out_bps[i]` its
    average rates (null: nothing measured, a gap). `allocation` is a step line."""

    kind: Literal["site"]
    key: str = Field(description="The site's code")
    label: str
    range: RangeName
    unit: Literal["bit/s"] = "bit/s"
    step_s: int = Field(description="Bucket length: 300 (5-minute rollups) or 3600 (hourly)")
    start: int
    end: int
    timezone: str = Field(description="The site's zone, for the time axis",
                          examples=["Asia/Jakarta"])
    zone: str = Field(examples=["WIB"])
    t: list[int]
    in_bps: list[float | None] = Field(description="Download: into the site")
    out_bps: list[float | None] = Field(description="Upload: out of the site")
    allocation: list[StepOut]


def series_out(series: Series, key: str, label: str, range_name: RangeName,
               timezone: str) -> SeriesOut:
    return SeriesOut(
        kind="site", key=key, label=label, range=range_name, step_s=series.step_s,
        start=series.start_ts, end=series.end_ts, timezone=timezone,
        zone=TZ_ABBREV.get(timezone, timezone),
        t=[p.ts for p in series.points],
        in_bps=[None if p.in_bps is None else round(p.in_bps, 1) for p in series.points],
        out_bps=[None if p.out_bps is None else round(p.out_bps, 1) for p in series.points],
        allocation=[StepOut(t=s.ts, down_bps=s.down_bps, up_bps=s.up_bps)
                    for s in series.allocation])


@router.get("/series", response_model=SeriesOut, responses={
    **AUTH_ERRORS, 404: {"description": "Unknown site"},
    422: {"description": "Bad range"}})
def series(request: Request, _who: Viewer,
           site: Annotated[str, Query(max_length=63, description="Site code")],
           range: Annotated[RangeName, Query(description="1h and 24h come from the "
                                             "5-minute rollups, 7d and 30d from the hourly "
                                             "ones")] = "24h",
           end: Annotated[int | None, Query(ge=0, le=2**40, description=
                                            "UTC epoch seconds the range ends at (default: "
                                            "now)")] = None) -> SeriesOut:
    """A site's use (in/out, bit/s) with the allocation in force beside it."""
    ctx = get_ctx(request)
    found = ctx.inventory.sites.get(site)
    if found is None:
        raise HTTPException(404, f"unknown site {site!r}")
    with ctx.store.session() as session:
        history = load_histories(session, ctx.inventory, [site])[site]
        data = site_series(session, history, range, time.time() if end is None else end,
                           holiday_dates(ctx.inventory))
    return series_out(data, site, found.name, range, found.timezone)
