"""Operator endpoints: /healthz for load balancers and monitors, /metrics for Prometheus."""

from django.http import HttpResponse, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST

from digests.ops.health import health_report
from digests.ops.metrics import metrics_access_allowed, metrics_exposition


@never_cache
@require_GET
def healthz(request):
    report = health_report()
    return JsonResponse(report, status=200 if report["healthy"] else 503, json_dumps_params={"ensure_ascii": False})


@never_cache
@require_GET
def metrics(request):
    allowed = metrics_access_allowed(
        remote_addr=request.META.get("REMOTE_ADDR", ""), authorization=request.headers.get("Authorization", "")
    )
    if not allowed:
        return HttpResponse("Forbidden\n", status=403, content_type="text/plain")
    return HttpResponse(metrics_exposition(), content_type=CONTENT_TYPE_LATEST)
