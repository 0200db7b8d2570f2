"""The onboarding wizard. Included at the site root: /onboarding/ and /w/<workspace_slug>/onboarding/…"""

from __future__ import annotations

from django.urls import path, register_converter

from letsgrow.onboarding import views


class StepConverter:
    """One of the wizard's pages, so unknown steps never match and `reverse` rejects them."""

    regex = "welcome|platforms|domains|automation"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return str(value)


register_converter(StepConverter, "onboarding_step")

app_name = "onboarding"
urlpatterns = [
    path("onboarding/", views.StartView.as_view(), name="start"),
    path("w/<slug:workspace_slug>/onboarding/", views.ResumeView.as_view(), name="resume"),
    path("w/<slug:workspace_slug>/onboarding/<onboarding_step:step>/", views.step_view, name="step"),
]
