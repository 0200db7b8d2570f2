"""The built-in content domains, as the product describes them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DomainSpec:
    key: str
    name: str
    description: str
    audience: str
    tone: str
    sample_posts: tuple[str, ...]


BUILT_IN_DOMAINS: dict[str, DomainSpec] = {
    spec.key: spec
    for spec in (
        DomainSpec(
            key="memes",
            name="Memes & Humor",
            description="Funny content, trending memes, relatable posts.",
            audience="General, millennials, Gen Z",
            tone="Playful",
            sample_posts=("When you finally fix that bug at 2am and it works on the first try 😅 #coding #developer",),
        ),
        DomainSpec(
            key="tech",
            name="Technology & Innovation",
            description="Tech news, AI updates, programming tips.",
            audience="Developers, tech enthusiasts",
            tone="Informative",
            sample_posts=("🤖 AI is changing how we build for the web. Three things that got easier this year…",),
        ),
        DomainSpec(
            key="business",
            name="Business & Entrepreneurship",
            description="Business tips, startup advice, leadership content.",
            audience="Entrepreneurs, professionals",
            tone="Professional",
            sample_posts=("📈 5 proven ways to grow a small business without a big budget.",),
        ),
        DomainSpec(
            key="lifestyle",
            name="Lifestyle & Wellness",
            description="Health tips, personal development, life advice.",
            audience="General audience, wellness enthusiasts",
            tone="Warm",
            sample_posts=("✨ The 10-minute morning routine that changed my focus for the whole day.",),
        ),
        DomainSpec(
            key="finance",
            name="Personal Finance",
            description="Money tips, investing basics, financial education.",
            audience="Young professionals, investors",
            tone="Clear and careful",
            sample_posts=("💰 A simple way to start investing: automate a small amount every payday.",),
        ),
    )
}
