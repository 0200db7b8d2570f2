"""Root URLs: each app's pages under its own prefix, the API under /api/."""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from letsgrow import views

admin.site.site_header = "LetsGrow staff"
admin.site.site_title = "LetsGrow staff"
admin.site.index_title = "Review and operations"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("readyz", views.readyz, name="readyz"),
    path("admin/", admin.site.urls),
    path("api/", include("letsgrow.api_router")),
]

if settings.DEBUG:
    from django.conf.urls.static import static

    urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
