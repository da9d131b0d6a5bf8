from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class StaffPreference(models.Model):
    """What a staff user chose for the admin, kept with the user rather than in one browser's cookie."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, verbose_name=_("user"), on_delete=models.CASCADE, related_name="staff_preference"
    )
    # A code from settings.LANGUAGES, checked where it is set (no choices: adding a language needs no migration).
    language = models.CharField(_("admin language"), max_length=10)

    class Meta:
        verbose_name = _("staff preference")
        verbose_name_plural = _("staff preferences")

    def __str__(self) -> str:
        return f"{self.user} · {self.language}"
