"""Poller shards: every site has exactly one owner among n shards; bad --shard is refused."""

from __future__ import annotations

import pytest

from controller.inventory import check_inventory
from controller.shard import ALL, Shard
from tests.conftest import DEMO_INVENTORY


@pytest.mark.parametrize("count", [1, 2, 3, 7])
def test_the_shards_cover_every_site_once(count: int) -> None:
    inventory, _ = check_inventory(DEMO_INVENTORY)
    owners = {code: [i for i in range(1, count + 1) if Shard(i, count).owns(code)]
              for code in inventory.sites}
    assert all(len(found) == 1 for found in owners.values()), owners
    if count <= 3:  # 47 demo sites: no shard of a small count is left empty
        assert {found[0] for found in owners.values()} == set(range(1, count + 1))


def test_ownership_is_stable_across_processes() -> None:
    # crc32 of the site code, not Python's per-process salted hash().
    assert [Shard(i, 3).owns("dinkes") for i in (1, 2, 3)] == [False, True, False]
    assert ALL.owns("dinkes") and ALL.whole and str(Shard.parse(" 2 / 3 ")) == "2/3"


@pytest.mark.parametrize("text", ["0/3", "4/3", "3", "a/b", "", "1/0", "-1/2"])
def test_a_bad_shard_is_refused_with_the_expected_form(text: str) -> None:
    with pytest.raises(ValueError, match=r"--shard must be i/n with 1 <= i <= n"):
        Shard.parse(text)


def test_serve_refuses_a_shard_outside_a_poller_and_a_bad_one() -> None:
    from typer.testing import CliRunner

    from controller.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["serve", "--shard", "1/2"])
    assert result.exit_code == 2 and "--shard needs --only poller" in result.output
    result = runner.invoke(app, ["serve", "--only", "poller", "--shard", "3/2"])
    assert result.exit_code == 2 and "--shard must be i/n" in result.output
