"""Pages of the content app: templates (workspace-scoped, under /w/<workspace_slug>/templates/)."""

from __future__ import annotations

from django.urls import path

from content import views_templates

app_name = "content_templates"
urlpatterns = [
    path("", views_templates.TemplateListView.as_view(), name="list"),
    path("new/", views_templates.TemplateCreateView.as_view(), name="create"),
    path("<int:pk>/edit/", views_templates.TemplateEditView.as_view(), name="edit"),
    path("<int:pk>/delete/", views_templates.TemplateDeleteView.as_view(), name="delete"),
    path("<int:pk>/render/", views_templates.TemplateRenderView.as_view(), name="render"),
]
