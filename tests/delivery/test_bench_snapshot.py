"""The snapshot bench: the start timed on its own, then floors that leave the ledger as they found it."""

import pytest

from digests.bench.snapshot import snapshot_floor, snapshot_timed
from digests.models import Delivery, Digest
from tests.helpers.readers import make_reader

pytestmark = pytest.mark.django_db


def test_the_timed_snapshot_starts_the_send_and_the_floors_leave_nothing_behind(seed_digest):
    for n in range(12):
        make_reader(f"bench{n}@example.org")

    timing = snapshot_timed(seed_digest.pk)

    assert Digest.objects.get(pk=seed_digest.pk).status == Digest.Status.SENDING
    assert timing.rows == 12 == Delivery.objects.filter(digest=seed_digest).count()
    assert timing.pending + timing.skipped == 12 and timing.seconds > 0
    digests_before = Digest.objects.count()

    measured = snapshot_floor(timing, seed_digest.pk)

    assert measured.floor_seconds > 0 and measured.bare_seconds > 0
    assert Delivery.objects.count() == 12 and Digest.objects.count() == digests_before  # rolled back
    report = str(measured)
    assert "snapshot: " in report and "for 12 readers" in report and "ratio" in report and "bare floor" in report
    # The database runs on this machine in the tests: the CPU seconds, steadier than the wall time, are given too.
    assert measured.cpu_seconds is not None and measured.floor_cpu_seconds is not None
    assert "snapshot CPU" in report and "; CPU " in report
