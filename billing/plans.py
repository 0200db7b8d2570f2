"""The plans and what each allows. The one place limits are written down.

`None` means unlimited. Other apps never read this directly: they ask
`billing.limits.check(workspace, action, current=N)`.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Plan:
    key: str
    name: str
    price_per_month_usd: int
    max_platforms: int | None  # connected social accounts
    max_posts_per_day: int | None
    max_domains: int | None
    allowed_domains: frozenset[str] | None  # built-in domains; None: all of them
    custom_domains: bool
    document_context: bool  # upload PDF/DOCX/PPTX as context for AI
    advanced_ai: bool
    max_members: int | None
    white_label: bool = False
    # Media library: largest single upload, per kind.
    max_image_bytes: int = 5 * 1024 * 1024
    max_video_bytes: int = 50 * 1024 * 1024
    # LLM tokens per calendar month (prompt + completion); None: unlimited.
    ai_tokens_per_month: int | None = 50_000
    platform_gates: frozenset[str] = field(default_factory=frozenset)  # platforms this plan may NOT use


FREE = Plan(
    key="free",
    name="Free",
    price_per_month_usd=0,
    max_platforms=2,
    max_posts_per_day=2,
    max_domains=2,
    allowed_domains=frozenset({"memes", "tech"}),
    custom_domains=False,
    document_context=False,
    advanced_ai=False,
    max_members=2,
    platform_gates=frozenset({"linkedin", "youtube"}),
)
PRO = Plan(
    key="pro",
    name="Pro",
    price_per_month_usd=29,
    max_platforms=5,
    max_posts_per_day=10,
    max_domains=None,
    allowed_domains=None,
    custom_domains=True,
    document_context=True,
    advanced_ai=True,
    max_members=10,
    max_image_bytes=20 * 1024 * 1024,
    max_video_bytes=512 * 1024 * 1024,
    ai_tokens_per_month=1_000_000,
)
AGENCY = Plan(
    key="agency",
    name="Agency",
    price_per_month_usd=99,
    max_platforms=None,
    max_posts_per_day=None,
    max_domains=None,
    allowed_domains=None,
    custom_domains=True,
    document_context=True,
    advanced_ai=True,
    max_members=None,
    white_label=True,
    max_image_bytes=30 * 1024 * 1024,
    max_video_bytes=1024 * 1024 * 1024,
    ai_tokens_per_month=5_000_000,
)

PLANS: dict[str, Plan] = {plan.key: plan for plan in (FREE, PRO, AGENCY)}
DEFAULT_PLAN = FREE
