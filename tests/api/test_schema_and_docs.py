"""The OpenAPI document validates; Swagger UI and Redoc are served from local files without inline script."""

from __future__ import annotations

import re

import pytest
import yaml
from openapi_spec_validator import validate

pytestmark = pytest.mark.django_db(transaction=True)

INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.IGNORECASE)


def test_the_generated_schema_is_valid_openapi_and_lists_every_endpoint(api):
    answer = api.get("schema/", key=None)
    assert answer.status_code == 200
    schema = yaml.safe_load(answer.content)
    validate(schema)
    paths = set(schema["paths"])
    for path in (
        "/api/v1/digests/",
        "/api/v1/digests/{date}/markdown",
        "/api/v1/digests/{date}/schedule",
        "/api/v1/subscribers/{id}/",
        "/api/v1/categories/",
    ):
        assert path in paths
    assert schema["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key made with `manage.py create_api_key`.",
    }
    create = schema["paths"]["/api/v1/digests/"]["post"]
    assert set(create["requestBody"]["content"]) == {"text/markdown", "application/json"}
    assert {"201", "400", "401", "403", "409", "429"} <= set(create["responses"])


@pytest.mark.parametrize("page", ["/api/docs/", "/api/docs/redoc/"])
def test_the_docs_pages_work_offline_under_a_strict_csp(api, live_server, page):
    html = api.get(live_server.url + page, key=None).text

    assert not INLINE_SCRIPT.search(html), "an inline script would need 'unsafe-inline'"
    assert "<style" not in html and "fonts.googleapis" not in html
    sources = re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html)
    assert sources and all(src.startswith("/") for src in sources), sources
    for src in sources:
        assert api.get(live_server.url + src, key=None).status_code == 200, src
