"""Output shapes of the accounts API, shared by its views. Input serializers sit in each view.

Invitations never show `token_hash` (nor the token): the emailed link is its one copy.
"""

from __future__ import annotations

from rest_framework import serializers


class WorkspaceOutputSerializer(serializers.Serializer):
    """A workspace as the caller sees it: `role` is theirs (or their API key's)."""

    name = serializers.CharField()
    slug = serializers.SlugField()
    timezone = serializers.CharField()
    role = serializers.CharField()


class MemberOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField(source="user.email")
    name = serializers.CharField(source="user.name")
    role = serializers.CharField()
    joined_at = serializers.DateTimeField(source="created_at")


class InvitationOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    role = serializers.CharField()
    status = serializers.CharField()  # pending, accepted, revoked or expired
    invited_by = serializers.EmailField(source="invited_by.email", default=None)
    created_at = serializers.DateTimeField()
    expires_at = serializers.DateTimeField()
    accepted_at = serializers.DateTimeField()
    revoked_at = serializers.DateTimeField()
