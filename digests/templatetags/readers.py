from django import template
from django.conf import settings

register = template.Library()


@register.simple_tag
def site_name() -> str:
    """The list's name (SITE_NAME), for pages rendered without a view's context such as 404."""
    return settings.SITE_NAME
