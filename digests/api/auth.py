"""Bearer API keys, their scopes and their rate limit."""

from __future__ import annotations

from django.conf import settings
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions, permissions, throttling

from digests.apikeys import api_key_authenticate
from newsletter.env import rate_parse


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer <key>``; a missing or wrong key is a 401 with ``WWW-Authenticate: Bearer``."""

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _, presented = header.partition(" ")
        if scheme.lower() != "bearer":
            return None
        key = api_key_authenticate(presented.strip())
        if key is None:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.")
        return (None, key)

    def authenticate_header(self, request):
        return 'Bearer realm="api"'


class HasScopes(permissions.BasePermission):
    """The key must hold the scope the view names for the request's method (``required_scopes``)."""

    message = "This API key lacks the scope this request needs."

    def has_permission(self, request, view):
        if request.auth is None:
            raise exceptions.NotAuthenticated("Send an API key: Authorization: Bearer <key>.")
        needed = view_scope(view, request.method)
        if needed and needed not in request.auth.scopes:
            self.message = f"This API key lacks the scope {needed}."
            return False
        return True


def view_scope(view, method: str) -> str | None:
    scopes = getattr(view, "required_scopes", None) or {}
    return scopes.get(method) if isinstance(scopes, dict) else scopes


class ApiKeyRateThrottle(throttling.SimpleRateThrottle):
    """API_RATE_LIMIT requests per key; over it a 429 with Retry-After."""

    scope = "api-key"

    def get_rate(self):
        return settings.API_RATE_LIMIT

    def parse_rate(self, rate):
        return rate_parse(rate, setting="API_RATE_LIMIT")

    def get_cache_key(self, request, view):
        if request.auth is None:
            return None
        return f"api-throttle:{request.auth.prefix}"


class ApiKeyScheme(OpenApiAuthenticationExtension):
    """How the schema describes the authentication: an HTTP bearer token."""

    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "description": "An API key made with `manage.py create_api_key`."}
