"""Time series for the graphs (controller/web/static/charts.js): use in bit/s per bucket and
the limit in force as steps (a site's allocation, an ISP contract's committed capacity, an
interface's speed), over 1 h, 24 h, 7 d or 30 d."""

from __future__ import annotations

import time
from typing import Annotated, Literal

from fastapi import APIRouter, HTTPException, Query, Request
from pydantic import BaseModel, Field

from controller.bandwidth.series import (
    Kind,
    Limit,
    RangeName,
    Series,
    Subject,
    UnknownSubject,
    subject,
    subject_series,
)
from controller.inventory import TZ_ABBREV
from controller.web.api.types import AUTH_ERRORS
from controller.web.deps import Viewer, get_ctx

router = APIRouter(tags=["bandwidth"])


class StepOut(BaseModel):
    t: int = Field(description="UTC epoch seconds from which this allocation was in force")
    down_bps: int
    up_bps: int


class SeriesOut(BaseModel):
    """Columns of equal length: `t[i]` is a bucket's start, `in_bps[i]`/`out_bps[i]` its
    average rates (null: nothing measured, a gap). `allocation` is a step line: the limit in
    force (`limit` says which)."""

    kind: Kind
    key: str = Field(description="The site's code, the ISP link's name or the device's name")
    interface: str | None = Field(None, description="The interface (ifName), for "
                                  "kind=interface and isp_link (the link's end on our side)")
    label: str
    limit: Limit = Field(description="allocation: the site's allocation in force; committed: "
                         "the ISP contract's capacity; speed: the interface's reported speed")
    range: RangeName
    unit: Literal["bit/s"] = "bit/s"
    step_s: int = Field(description="Bucket length: 300 (5-minute rollups) or 3600 (hourly)")
    start: int
    end: int
    timezone: str = Field(description="The site's zone, for the time axis",
                          examples=["Asia/Jakarta"])
    zone: str = Field(examples=["WIB"])
    t: list[int]
    in_bps: list[float | None] = Field(description="Download: into the site (received by "
                                       "the interface)")
    out_bps: list[float | None] = Field(description="Upload: out of the site (sent by the "
                                        "interface)")
    allocation: list[StepOut]


def series_out(series: Series, what: Subject, range_name: RangeName) -> SeriesOut:
    return SeriesOut(
        kind=what.kind, key=what.key, interface=what.interface or None, label=what.label,
        limit=what.limit, range=range_name, step_s=series.step_s,
        start=series.start_ts, end=series.end_ts, timezone=what.timezone,
        zone=TZ_ABBREV.get(what.timezone, what.timezone),
        t=[p.ts for p in series.points],
        in_bps=[None if p.in_bps is None else round(p.in_bps, 1) for p in series.points],
        out_bps=[None if p.out_bps is None else round(p.out_bps, 1) for p in series.points],
        allocation=[StepOut(t=s.ts, down_bps=s.down_bps, up_bps=s.up_bps)
                    for s in series.allocation])


@router.get("/series", response_model=SeriesOut, responses={
    **AUTH_ERRORS, 404: {"description": "Unknown site, ISP link, device or interface, or "
                         "the parameter the kind needs is missing"},
    422: {"description": "Bad range or kind"}})
def series(request: Request, _who: Viewer,
           kind: Annotated[Kind, Query(description="site (needs site), isp_link (needs "
                                       "link), interface (needs device and interface)")
                           ] = "site",
           site: Annotated[str | None, Query(max_length=63, description="Site code")] = None,
           link: Annotated[str | None, Query(max_length=255, description="ISP link name, as "
                                             "the contract names it")] = None,
           device: Annotated[str | None, Query(max_length=63)] = None,
           interface: Annotated[str | None, Query(max_length=128, description="ifName")
                                ] = None,
           range: Annotated[RangeName, Query(description="1h and 24h come from the "
                                             "5-minute rollups, 7d and 30d from the hourly "
                                             "ones")] = "24h",
           end: Annotated[int | None, Query(ge=0, le=2**40, description=
                                            "UTC epoch seconds the range ends at (default: "
                                            "now)")] = None) -> SeriesOut:
    """A site's, an ISP link's or an interface's use (in/out, bit/s) with the limit in force
    beside it."""
    needed = {"site": ("site", site), "isp_link": ("link", link),
              "interface": ("device", device)}[kind]
    if not needed[1] or (kind == "interface" and not interface):
        missing = needed[0] if not needed[1] else "interface"
        # 404, not 422: the schema cannot say which parameters a kind needs, and a request
        # without them names nothing to graph.
        raise HTTPException(404, f"kind={kind} needs the {missing!r} parameter")
    ctx = get_ctx(request)
    with ctx.store.session() as session:
        try:
            what = subject(session, ctx.inventory, kind, needed[1], interface or "")
        except UnknownSubject as exc:
            raise HTTPException(404, str(exc)) from None
        data = subject_series(session, ctx.inventory, what, range,
                              time.time() if end is None else end)
    return series_out(data, what, range)
