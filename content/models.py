"""What is said: posts' text and variants, templates, domains, media, AI."""

from __future__ import annotations

from django.db import models

from accounts.models import Workspace
from accounts.scoping import WorkspaceScopedModel


class ContentDomain(WorkspaceScopedModel):
    """A subject a workspace posts about: a built-in domain it chose, or its own."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="content_domains")
    # Built-in domains use their catalogue key (content/domains.py); custom ones a slug of their name.
    key = models.SlugField(max_length=60)
    name = models.CharField(max_length=80)
    is_custom = models.BooleanField(default=False)
    description = models.TextField(blank=True)
    audience = models.CharField(max_length=200, blank=True)
    tone = models.CharField(max_length=80, blank=True)
    sample_posts = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "key"], name="content_domain_unique_key")]

    def __str__(self) -> str:
        return self.name
