from __future__ import annotations

import pytest

from controller.units import Allocation, parse_bytes, parse_duration_s, parse_rate_bps


@pytest.mark.parametrize(("text", "bps"), [("20M", 20_000_000), ("1.5G", 1_500_000_000),
                                           ("512k", 512_000), ("100Mbps", 100_000_000),
                                           (2048, 2048)])
def test_rates(text: object, bps: int) -> None:
    assert parse_rate_bps(text) == bps


@pytest.mark.parametrize("text", ["20MB", "fast", "-5M", "0", "20 M/s", True])
def test_bad_rates_are_refused(text: object) -> None:
    with pytest.raises(ValueError, match="bad bandwidth"):
        parse_rate_bps(text)


def test_allocation_round_trip() -> None:
    allocation = Allocation.parse("20M/10M")
    assert (allocation.down_bps, allocation.up_bps) == (20_000_000, 10_000_000)
    assert str(allocation) == "20M/10M"
    assert Allocation.parse("1G") == Allocation(10**9, 10**9)
    with pytest.raises(ValueError, match="down/up"):
        Allocation.parse("1M/2M/3M")


def test_durations_and_bytes() -> None:
    assert parse_duration_s("2h30m") == 9000
    assert parse_duration_s("90") == 90
    assert parse_duration_s("1d") == 86400
    with pytest.raises(ValueError, match="bad duration"):
        parse_duration_s("2 hours")
    assert parse_bytes("2G") == 2 * 10**9
    assert parse_bytes("500MB") == 500 * 10**6
    with pytest.raises(ValueError, match="bad size"):
        parse_bytes("lots")
