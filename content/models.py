"""What is said: posts' text and variants, templates, domains, media, AI."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from accounts.models import Workspace
from accounts.scoping import WorkspaceScopedModel
from publishing.fields import StrictEncryptedTextField


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
    tags = models.ManyToManyField("content.Tag", blank=True, related_name="posts")
    domain = models.ForeignKey(
        "content.ContentDomain", on_delete=models.SET_NULL, null=True, blank=True, related_name="posts"
    )
    template = models.ForeignKey("content.Template", on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    content_plan = models.ForeignKey(
        "content.ContentPlan", on_delete=models.SET_NULL, null=True, blank=True, related_name="posts"
    )
    # For AI posts: prompt, model, domain, documents used, temperature, usage; shown to reviewers.
    generation = models.JSONField(default=dict, blank=True)
    # 1-100 with the reasons (content.scoring); None when not scored.
    performance_score = models.PositiveSmallIntegerField(null=True, blank=True)
    score_reasons = models.JSONField(default=list, blank=True)
    # When it last went to review: the approval queue is oldest first and shows how long it waited.
    submitted_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["workspace", "status"], name="content_post_ws_status"),
            # The approval queue: pending posts, oldest first (and per workspace).
            models.Index(fields=["status", "submitted_at", "id"], name="content_post_review_queue"),
            models.Index(fields=["status", "source", "submitted_at"], name="content_post_review_source"),
        ]
        permissions = [("approve_post", "Can approve, reject and request changes to posts in review")]

    def __str__(self) -> str:
        first_line = (self.text or "").strip().splitlines()[0] if (self.text or "").strip() else "(empty post)"
        return first_line[:60]


class PendingReviewPost(Post):
    """The staff approval queue in Django Admin: posts waiting for review (a proxy: same rows)."""

    class Meta:
        proxy = True
        verbose_name = "post awaiting review"
        verbose_name_plural = "posts awaiting review"


def _media_path(instance: MediaAsset, filename: str) -> str:
    # Never the uploaded name: a random one under the workspace, with the extension we detected.
    return f"media/{instance.workspace_id}/{instance.storage_name}"


def _thumbnail_path(instance: MediaAsset, filename: str) -> str:
    return f"media/{instance.workspace_id}/thumbs/{instance.storage_name.rsplit('.', 1)[0]}.jpg"


def _rendition_path(instance: MediaRendition, filename: str) -> str:
    stem = instance.asset.storage_name.rsplit(".", 1)[0]
    return f"media/{instance.asset.workspace_id}/renditions/{stem}-{instance.ratio_key}.jpg"


def _document_path(instance: Document, filename: str) -> str:
    return f"documents/{instance.workspace_id}/{instance.storage_name}"


class Tag(WorkspaceScopedModel):
    """A label a workspace puts on its posts (campaign, series, product…)."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="tags")
    name = models.CharField(max_length=50)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="content_tag_unique_name")]

    def __str__(self) -> str:
        return self.name


class MediaAsset(WorkspaceScopedModel):
    """An image or a video in a workspace's media library; reusable across posts."""

    class Kind(models.TextChoices):
        IMAGE = "image", "Image"
        VIDEO = "video", "Video"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="media_assets")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    kind = models.CharField(max_length=8, choices=Kind.choices)
    # Random file name with the extension of the detected type (see _media_path).
    storage_name = models.CharField(max_length=80)
    file = models.FileField(upload_to=_media_path, max_length=255)
    thumbnail = models.FileField(upload_to=_thumbnail_path, max_length=255, blank=True)
    original_name = models.CharField(max_length=255, blank=True, help_text="As uploaded; shown, never used as a path.")
    source_url = models.URLField(max_length=2000, blank=True, help_text="Where it was imported from, if it was.")
    content_type = models.CharField(max_length=80, help_text="Detected from the bytes, not the name.")
    size_bytes = models.PositiveBigIntegerField()
    width = models.PositiveIntegerField(null=True, blank=True)
    height = models.PositiveIntegerField(null=True, blank=True)
    duration_seconds = models.FloatField(null=True, blank=True)
    sha256 = models.CharField(max_length=64, db_index=True)
    alt_text = models.TextField(blank=True, max_length=1500)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["workspace", "-created_at"], name="content_media_ws_created")]

    def __str__(self) -> str:
        return self.original_name or self.storage_name


class MediaRendition(models.Model):
    """A copy of an image cropped/resized to an aspect ratio a platform accepts (e.g. Instagram 4:5)."""

    asset = models.ForeignKey(MediaAsset, on_delete=models.CASCADE, related_name="renditions")
    ratio_key = models.CharField(max_length=20, help_text='e.g. "1x1", "4x5", "1.91x1".')
    file = models.FileField(upload_to=_rendition_path, max_length=255)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    size_bytes = models.PositiveBigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["asset", "ratio_key"], name="content_rendition_unique")]

    def __str__(self) -> str:
        return f"{self.asset} ({self.ratio_key})"


class PostMedia(WorkspaceScopedModel):
    """Media attached to a post, in order; with `target` set, only to that account's variant."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="media")
    # None: every target gets it. A target id: that target's own media (its variant).
    target = models.ForeignKey(
        "publishing.PostTarget", on_delete=models.CASCADE, null=True, blank=True, related_name="media"
    )
    asset = models.ForeignKey(MediaAsset, on_delete=models.PROTECT, related_name="uses")
    position = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["position", "pk"]

    def __str__(self) -> str:
        return f"{self.post_id}: {self.asset}"


class Template(WorkspaceScopedModel):
    """Reusable post text with variables like {product} and {link}; generic or for one platform."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="templates")
    name = models.CharField(max_length=120)
    body = models.TextField()
    # "" = any platform; otherwise a provider slug (x, linkedin, …).
    platform = models.CharField(max_length=20, blank=True)
    domain = models.ForeignKey(ContentDomain, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [models.UniqueConstraint(fields=["workspace", "name"], name="content_template_unique_name")]

    def __str__(self) -> str:
        return self.name


class Document(WorkspaceScopedModel):
    """An uploaded document (PDF, DOCX, PPTX, TXT, image) whose text and key points feed AI generation."""

    class Status(models.TextChoices):
        PROCESSING = "processing", "Processing"
        READY = "ready", "Ready"
        FAILED = "failed", "Failed"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="documents")
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    storage_name = models.CharField(max_length=80)
    file = models.FileField(upload_to=_document_path, max_length=255)
    original_name = models.CharField(max_length=255)
    kind = models.CharField(max_length=10, help_text="pdf, docx, pptx, txt or image (detected from the bytes).")
    size_bytes = models.PositiveBigIntegerField()
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PROCESSING)
    error = models.TextField(blank=True, help_text="Why it could not be read, in plain words.")
    extracted_text = models.TextField(blank=True)
    key_points = models.JSONField(default=list, blank=True)
    summary_note = models.CharField(
        max_length=200, blank=True, help_text="How the key points were made (model, or offline extract)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.original_name


class AISettings(WorkspaceScopedModel):
    """A workspace's own model (bring your own key) and brand voice. Empty: the server's configured model."""

    workspace = models.OneToOneField(Workspace, on_delete=models.CASCADE, related_name="ai_settings")
    base_url = models.URLField(max_length=500, blank=True)
    model = models.CharField(max_length=120, blank=True)
    api_key = StrictEncryptedTextField(blank=True)
    fallback_base_url = models.URLField(max_length=500, blank=True)
    fallback_model = models.CharField(max_length=120, blank=True)
    fallback_api_key = StrictEncryptedTextField(blank=True)
    brand_voice = models.TextField(blank=True, max_length=2000)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"AI settings of {self.workspace}"


class TokenUsage(WorkspaceScopedModel):
    """LLM tokens a workspace used in one calendar month (UTC), metered on every call."""

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="token_usage")
    month = models.DateField(help_text="The first day of the month.")
    prompt_tokens = models.PositiveBigIntegerField(default=0)
    completion_tokens = models.PositiveBigIntegerField(default=0)
    calls = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["workspace", "month"], name="content_token_usage_month")]

    def __str__(self) -> str:
        return f"{self.workspace} {self.month:%Y-%m}"

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ContentPlan(WorkspaceScopedModel):
    """ "30 days of content in 30 seconds": one request to generate many posts, and its progress."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Generating"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    class Destination(models.TextChoices):
        REVIEW = "review", "Approval queue"
        DRAFTS = "drafts", "Drafts"

    workspace = models.ForeignKey(Workspace, on_delete=models.CASCADE, related_name="content_plans")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    start_date = models.DateField()
    days = models.PositiveSmallIntegerField()
    posts_per_day = models.PositiveSmallIntegerField()
    # {"tech": 70, "memes": 30}: domain keys and percentages summing to 100.
    domain_mix = models.JSONField(default=dict)
    account_ids = models.JSONField(default=list, help_text="Social account ids the posts go to.")
    prompt = models.TextField(blank=True)
    destination = models.CharField(max_length=8, choices=Destination.choices, default=Destination.REVIEW)
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.QUEUED)
    total = models.PositiveIntegerField(default=0)
    done = models.PositiveIntegerField(default=0)
    failed = models.PositiveIntegerField(default=0)
    retries = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"Content plan {self.pk} ({self.days} days x {self.posts_per_day})"
