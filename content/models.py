"""What is said: posts' text and variants, templates, domains, media, AI."""

from __future__ import annotations

from django.conf import settings
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


class Post(WorkspaceScopedModel):
    """One piece of content, going to one or more connected accounts (publishing.PostTarget).

    `status` changes only through publishing.transitions. Before scheduling it
    is the review state; afterwards it is the roll-up of the targets' statuses.
    """

    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PENDING_REVIEW = "pending_review", "Pending review"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"
        SCHEDULED = "scheduled", "Scheduled"
        PUBLISHING = "publishing", "Publishing"
        PUBLISHED = "published", "Published"
        PARTIALLY_PUBLISHED = "partially_published", "Partially published"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"

    class Source(models.TextChoices):
        MANUAL = "manual", "Written by hand"
        AI = "ai", "Generated with AI"
        TEMPLATE = "template", "From a template"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="posts")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+")
    text = models.TextField(blank=True)
    source = models.CharField(max_length=16, choices=Source.choices, default=Source.MANUAL)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.DRAFT)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "status"], name="content_post_ws_status")]

    def __str__(self) -> str:
        first_line = (self.text or "").strip().splitlines()[0] if (self.text or "").strip() else "(empty post)"
        return first_line[:60]
