from __future__ import annotations

app_name = "onboarding"
urlpatterns: list = []
