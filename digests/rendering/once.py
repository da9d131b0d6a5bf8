"""What public pages render once per process: ``{% rendered_once %}`` fragments and whole pages (``render_once``).

Per process, bounded, never shared: nothing kept here is secret, and a page
must work without Redis. Any settings change (tests make them) forgets it all,
since a fragment may show a setting such as the site's name, and so does an
edited template under ``runserver``, as Django's own template cache does.
"""

from django.core.cache.backends.locmem import LocMemCache
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.template.autoreload import get_template_directories
from django.utils.autoreload import file_changed

rendered_fragments = LocMemCache("digests-rendered-once", {"TIMEOUT": None, "OPTIONS": {"MAX_ENTRIES": 500}})


@receiver(setting_changed)
def _forget_rendered_fragments(**kwargs) -> None:
    rendered_fragments.clear()


@receiver(file_changed, dispatch_uid="digests_rendered_once_template_changed")
def _forget_after_a_template_edit(sender, file_path, **kwargs) -> None:
    if file_path.suffix != ".py" and any(directory in file_path.parents for directory in get_template_directories()):
        rendered_fragments.clear()
