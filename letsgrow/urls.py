"""Root URLs: each app's pages under its own prefix, the API under /api/."""

from __future__ import annotations

from allauth.account.decorators import secure_admin_login
from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from letsgrow import views

admin.site.site_header = "LetsGrow staff"
admin.site.site_title = "LetsGrow staff"
admin.site.index_title = "Review and operations"
# Staff log in through allauth (with its two-factor step), not admin's own form.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    # Browsers and feed readers ask for /favicon.ico whatever the pages link to.
    path("favicon.ico", views.FaviconView.as_view()),
    path("admin/", admin.site.urls),
    path("accounts/", include("allauth.urls")),
    path("", include("accounts.urls")),
    path("", include("letsgrow.onboarding.urls")),
    path("w/<slug:workspace_slug>/", include("analytics.urls")),
    path("", include("publishing.urls")),
    path("w/<slug:workspace_slug>/media/", include("content.urls_media")),
    path("w/<slug:workspace_slug>/documents/", include("content.urls_documents")),
    path("w/<slug:workspace_slug>/ai/", include("content.urls_ai")),
    path("w/<slug:workspace_slug>/templates/", include("content.urls_templates")),
    path("m/", include("content.urls_media_public")),
    path("w/<slug:workspace_slug>/plan/", include("letsgrow.planner.urls")),
    path("api/", include("letsgrow.api_router")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
