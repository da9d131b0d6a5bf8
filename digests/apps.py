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

        from digests import (
            system_checks,  # noqa: F401  (registers the system checks)
            tasks,  # noqa: F401  (registers the tasks under digests.queue's names)
        )
