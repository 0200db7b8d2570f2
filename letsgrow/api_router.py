"""The REST API: one router; each app registers its viewsets here (STYLE §1)."""

from __future__ import annotations

from rest_framework.routers import DefaultRouter

router = DefaultRouter()

app_name = "api"
urlpatterns = router.urls
