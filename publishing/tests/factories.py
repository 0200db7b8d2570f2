"""Factories for posts, targets and connected accounts."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from content.models import Post
from publishing.models import PostTarget, SocialAccount
from tests.factories import WorkspaceFactory


class PostFactory(DjangoModelFactory):
    class Meta:
        model = Post

    workspace = factory.SubFactory(WorkspaceFactory)
    text = factory.Sequence(lambda n: f"Post number {n} #letsgrow")


class SocialAccountFactory(DjangoModelFactory):
    class Meta:
        model = SocialAccount

    workspace = factory.SubFactory(WorkspaceFactory)
    platform = "x"
    account_id = factory.Sequence(lambda n: f"10{n}")
    handle = factory.Sequence(lambda n: f"account{n}")
    access_token = "test-access-token"


class PostTargetFactory(DjangoModelFactory):
    class Meta:
        model = PostTarget

    post = factory.SubFactory(PostFactory)
    workspace = factory.SelfAttribute("post.workspace")
    social_account = factory.SubFactory(SocialAccountFactory, workspace=factory.SelfAttribute("..workspace"))
