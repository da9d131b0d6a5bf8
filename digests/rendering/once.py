"""What public pages render once per process: ``{% rendered_once %}`` fragments and whole pages (``render_once``).

Per process, bounded, never shared: nothing kept here is secret, and a page
must work without Redis. Any settings change (tests make them) forgets it all,
since a fragment may show a setting such as the site's name.
"""

from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed
from django.dispatch import receiver

rendered_fragments = LocMemCache("digests-rendered-once", {"TIMEOUT": None, "OPTIONS": {"MAX_ENTRIES": 500}})


@receiver(setting_changed)
def _forget_rendered_fragments(**kwargs) -> None:
    rendered_fragments.clear()
