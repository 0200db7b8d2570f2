"""The REST API, versioned: everything lives under /api/v1/ (STYLE §1).

Each app adds its `<app>/api/urls.py` to `v1_patterns` under its own namespace
(`api:<app>:<name>`); viewsets, if any, register on `router`.
"""

from __future__ import annotations

from django.urls import include, path
from rest_framework.routers import DefaultRouter

router = DefaultRouter()

v1_patterns = [
    *router.urls,
    path("", include("accounts.api.urls")),
]

app_name = "api"
urlpatterns = [
    path("v1/", include(v1_patterns)),
]
