"""API key authentication: `Authorization: Bearer lg_...`.

A key-authenticated request gets `request.auth` = the ApiKey and
`request.user` = an `ApiKeyUser`, not the key's creator. Why not the creator:
the key grants its own role in its own workspace only. Handing out the
creator's User would let any code that looks at `request.user` (their other
workspaces, their owner role) act with more than the key allows, and the
creator may since have left or been deleted. `ApiKeyUser` passes
IsAuthenticated and has no id, so code that mistakes it for a real User fails
loudly instead of quietly acting as someone. Writes that need a user (the
member services) go through `WorkspaceAccess.actor_for()`.
"""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header

from accounts.api_keys import find_api_key, record_api_key_use
from accounts.models import ApiKey

KEYWORD = "Bearer"


class ApiKeyUser(AnonymousUser):
    """The principal of a key-authenticated request: authenticated, but not a person.

    Built on AnonymousUser so every permission check Django makes on it
    (has_perm, groups, is_staff) says no.
    """

    def __init__(self, api_key: ApiKey) -> None:
        self.api_key = api_key

    def __str__(self) -> str:
        return f"API key {self.api_key.prefix}"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ApiKeyUser) and other.api_key.pk == self.api_key.pk

    def __hash__(self) -> int:
        return hash(("api_key", self.api_key.pk))

    @property
    def is_anonymous(self) -> bool:  # type: ignore[override]
        return False

    @property
    def is_authenticated(self) -> bool:  # type: ignore[override]
        return True


class ApiKeyAuthentication(BaseAuthentication):
    """A Bearer header names an API key. No header: the next class (session) decides.

    A Bearer header with a malformed, unknown or revoked key is a 401; it never
    falls back to the session, so a broken key is noticed.
    """

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if not parts or parts[0].lower() != KEYWORD.lower().encode():
            return None
        if len(parts) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header: send exactly `Bearer <api key>`, with no spaces in the key."
            )
        try:
            raw = parts[1].decode()
        except UnicodeError as exc:
            raise exceptions.AuthenticationFailed("Invalid API key.") from exc

        api_key = find_api_key(raw)
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if not api_key.is_active:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        record_api_key_use(api_key)
        return ApiKeyUser(api_key), api_key

    def authenticate_header(self, request) -> str:
        # Makes unauthenticated requests a 401 (with this challenge) rather than a 403.
        return f'{KEYWORD} realm="api"'
