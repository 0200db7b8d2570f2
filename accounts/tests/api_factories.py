"""Factories for API keys."""

from __future__ import annotations

import factory
from factory.django import DjangoModelFactory

from accounts.api_keys import KEY_START, hash_api_key
from accounts.models import ApiKey
from tests.factories import WorkspaceFactory


class ApiKeyFactory(DjangoModelFactory):
    """A key shaped as `create_api_key` makes it (without its permission check).

    The raw key is kept on the instance as `key.raw_key`, for tests to authenticate with.
    """

    class Meta:
        model = ApiKey

    workspace = factory.SubFactory(WorkspaceFactory)
    name = factory.Sequence(lambda n: f"Key {n}")
    role = ApiKey.Role.EDITOR
    prefix = factory.Sequence(lambda n: f"{n:08x}")
    raw_key = factory.LazyAttributeSequence(lambda o, n: f"{KEY_START}{o.prefix}_{'s' * 31}{n:012d}")
    key_hash = factory.LazyAttribute(lambda o: hash_api_key(o.raw_key))

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        raw_key = kwargs.pop("raw_key")
        api_key = super()._create(model_class, *args, **kwargs)
        api_key.raw_key = raw_key
        return api_key
