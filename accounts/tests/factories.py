"""Factories for accounts' own tests (the shared ones live in tests/factories.py)."""

from __future__ import annotations

import hashlib

import factory
from factory.django import DjangoModelFactory

from accounts.models import Invitation, Membership
from tests.factories import UserFactory, WorkspaceFactory


class InvitationFactory(DjangoModelFactory):
    """A pending invitation. Pass `token="..."` to know the raw token of its link."""

    class Meta:
        model = Invitation

    class Params:
        token = factory.Sequence(lambda n: f"test-invitation-token-{n}")

    workspace = factory.SubFactory(WorkspaceFactory)
    email = factory.Sequence(lambda n: f"invitee{n}@example.com")
    role = Membership.Role.EDITOR
    token_hash = factory.LazyAttribute(lambda o: hashlib.sha256(o.token.encode()).hexdigest())
    invited_by = factory.SubFactory(UserFactory)
