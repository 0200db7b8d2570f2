"""Project-level pages: the home page and the health endpoints."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.templatetags.static import static
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from django.views.generic import RedirectView, TemplateView

from letsgrow.lib.health import run_readiness_checks


class FaviconView(RedirectView):
    """/favicon.ico, which browsers and feed readers ask for whatever the pages link to: the static icon."""

    permanent = True

    def get_redirect_url(self, *args, **kwargs) -> str:
        return static("favicon.svg")  # at request time: the hashed name exists only after collectstatic


class HomeView(TemplateView):
    template_name = "home.html"


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness: the web process is up and serving. Touches nothing else."""
    return JsonResponse({"status": "ok"})


@never_cache
@require_GET
def readyz(request: HttpRequest) -> JsonResponse:
    """Readiness: database, broker, worker and beat. 503 names what fails."""
    results = run_readiness_checks()
    failing = [name for name, result in results.items() if not result.ok]
    body = {
        "status": "fail" if failing else "ok",
        "failing": failing,
        "checks": {name: result.as_dict() for name, result in results.items()},
    }
    return JsonResponse(body, status=503 if failing else 200)
