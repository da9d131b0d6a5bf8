from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DigestsConfig(AppConfig):
    name = "digests"
    verbose_name = _("Daily digests")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from anymail.signals import tracking

        from digests.feedback.receiver import tracking_event_received

        tracking.connect(tracking_event_received, dispatch_uid="digests.feedback.tracking")

        from django.db.models.signals import post_delete, post_save

        from digests.models import Category
        from digests.readers.categories import active_categories_forget

        # The readers' pages keep the active categories in the cache: any change drops them.
        for signal in (post_save, post_delete):
            signal.connect(active_categories_forget, sender=Category, dispatch_uid=f"digests.categories.{signal is post_save}")

        from digests import (
            system_checks,  # noqa: F401  (registers the system checks)
            tasks,  # noqa: F401  (registers the tasks under digests.queue's names)
        )
