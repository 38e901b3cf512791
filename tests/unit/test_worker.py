"""The job queue's small rules: which stores queue jobs, and the periodic rounds' cron lines."""

from __future__ import annotations

import croniter
import pytest

from controller.worker import QueueRefused, cron_every, device_lock, job_app, uses_job_queue


def test_only_postgresql_queues_jobs() -> None:
    assert uses_job_queue("postgresql+psycopg://simpul@127.0.0.1:5432/simpul")
    assert not uses_job_queue("sqlite:////var/lib/simpul/simpul.db")
    with pytest.raises(QueueRefused, match="need PostgreSQL"):
        job_app("sqlite:///simpul.db")


@pytest.mark.parametrize(("seconds", "expected_s"), [(3, 3), (10, 10), (60, 60), (900, 900),
                                                      (0.4, 1)])
def test_cron_fires_every_interval(seconds: float, expected_s: float) -> None:
    cron = croniter.croniter(cron_every(seconds), 1_800_000_000)  # a round start (divisible)
    first = cron.get_next(float)
    assert cron.get_next(float) - first == expected_s


def test_a_device_has_one_lock_whatever_push_it_is_in() -> None:
    assert device_lock("setda-r1") == device_lock("setda-r1") != device_lock("setwan-r1")
