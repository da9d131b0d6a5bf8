"""Times as the admin shows them: always with the time zone's name and its UTC offset.

"CST" names three different zones; "Asia/Shanghai (UTC+08:00)" names one.
"""

from __future__ import annotations

import datetime
import zoneinfo

from django.conf import settings
from django.utils import timezone


def site_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def zone_label(at: datetime.datetime | None = None) -> str:
    """The site's zone with its offset at ``at`` (now by default): ``Asia/Shanghai (UTC+08:00)``."""
    zone = site_zone()
    offset = (at or timezone.now()).astimezone(zone).utcoffset() or datetime.timedelta(0)
    minutes = int(offset.total_seconds()) // 60
    sign = "+" if minutes >= 0 else "-"
    hours, minutes = divmod(abs(minutes), 60)
    return f"{zone.key} (UTC{sign}{hours:02d}:{minutes:02d})"


def time_label(at: datetime.datetime | None) -> str:
    """``2026-12-02 07:30 Asia/Shanghai (UTC+08:00)``; empty for no time."""
    if at is None:
        return ""
    return f"{at.astimezone(site_zone()):%Y-%m-%d %H:%M} {zone_label(at)}"
