"""The accounts API: the caller's workspaces, members and invitations.

Every view under /api/v1/w/<workspace_slug>/ extends `WorkspaceAPIView`,
which resolves the workspace once per request (404 unless the caller may see
it), then the URL's object within it (404 if it belongs to another
workspace), then checks the role (403). Other apps' API views extend it too.
"""

from __future__ import annotations

from django.db import models
from rest_framework import serializers, status
from rest_framework.permissions import SAFE_METHODS
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from accounts import services
from accounts.api.permissions import WorkspaceAccess, resolve_workspace_access
from accounts.api.serializers import (
    InvitationOutputSerializer,
    MemberOutputSerializer,
    WorkspaceOutputSerializer,
)
from accounts.api.throttling import ApiKeyRateThrottle
from accounts.models import ApiKey, Invitation, Membership
from accounts.permissions import Action
from accounts.scoping import get_scoped_or_404


def paginated_response(*, serializer_class, queryset, request, view) -> Response:
    """A page of `queryset` in the project's pagination shape (count, next, previous, results)."""
    pagination_class = api_settings.DEFAULT_PAGINATION_CLASS
    if pagination_class is None:
        return Response(serializer_class(queryset, many=True).data)
    paginator = pagination_class()
    page = paginator.paginate_queryset(queryset, request, view=view)
    return paginator.get_paginated_response(serializer_class(page, many=True).data)


class WorkspaceAPIView(APIView):
    """Base for views under /api/v1/w/<workspace_slug>/.

    Sets `self.access` (WorkspaceAccess), `self.workspace` and, when
    `scoped_model` is set, `self.object` = the `scoped_model` row of the URL's
    `pk` in this workspace. Set `required_action` for reads and `write_action`
    for POST/PUT/PATCH/DELETE (defaults to `required_action`).

    Order: 401 (who?) → 404 (workspace, then object) → 403 (role) → 405/400.
    The object is looked up before the method is dispatched, so another
    workspace's id is 404 for every method, never 405.
    """

    throttle_classes = [ApiKeyRateThrottle]
    required_action: Action = Action.VIEW
    write_action: Action | None = None
    scoped_model: type[models.Model] | None = None

    access: WorkspaceAccess

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        self.access = resolve_workspace_access(request, kwargs["workspace_slug"])
        self.workspace = self.access.workspace
        if self.scoped_model is not None:
            self.object = get_scoped_or_404(self.scoped_model, self.workspace, pk=kwargs["pk"])
        is_write = request.method not in SAFE_METHODS
        self.access.require((self.write_action or self.required_action) if is_write else self.required_action)


class WorkspaceListApi(APIView):
    """GET /api/v1/workspaces/: the caller's workspaces with their role (an API key: its one workspace)."""

    throttle_classes = [ApiKeyRateThrottle]

    def get(self, request):
        if isinstance(request.auth, ApiKey):
            rows = [_workspace_row(request.auth.workspace, request.auth.role)]
        else:
            memberships = Membership.objects.filter(user=request.user).select_related("workspace")
            rows = [_workspace_row(m.workspace, m.role) for m in memberships.order_by("workspace__name", "pk")]
        return paginated_response(serializer_class=WorkspaceOutputSerializer, queryset=rows, request=request, view=self)


def _workspace_row(workspace, role: str) -> dict[str, str]:
    return {"name": workspace.name, "slug": workspace.slug, "timezone": workspace.timezone, "role": role}


class WorkspaceDetailApi(WorkspaceAPIView):
    """GET /api/v1/w/<workspace_slug>/."""

    def get(self, request, workspace_slug):
        row = _workspace_row(self.workspace, self.access.role)
        return Response(WorkspaceOutputSerializer(row).data)


class MemberListApi(WorkspaceAPIView):
    """GET /api/v1/w/<workspace_slug>/members/."""

    write_action = Action.MANAGE_MEMBERS

    def get(self, request, workspace_slug):
        members = Membership.objects.for_workspace(self.workspace).select_related("user").order_by("created_at", "pk")
        return paginated_response(serializer_class=MemberOutputSerializer, queryset=members, request=request, view=self)


class MemberDetailApi(WorkspaceAPIView):
    """GET, PATCH (role) and DELETE /api/v1/w/<workspace_slug>/members/<pk>/."""

    scoped_model = Membership
    write_action = Action.MANAGE_MEMBERS

    class InputSerializer(serializers.Serializer):
        role = serializers.ChoiceField(choices=Membership.Role.choices)

    def get(self, request, workspace_slug, pk):
        return Response(MemberOutputSerializer(self.object).data)

    def patch(self, request, workspace_slug, pk):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        membership = services.change_role(
            membership=self.object,
            role=serializer.validated_data["role"],
            actor=self.access.actor_for(Action.MANAGE_MEMBERS),
        )
        return Response(MemberOutputSerializer(membership).data)

    def delete(self, request, workspace_slug, pk):
        services.remove_member(membership=self.object, actor=self.access.actor_for(Action.MANAGE_MEMBERS))
        return Response(status=status.HTTP_204_NO_CONTENT)


class InvitationListApi(WorkspaceAPIView):
    """GET (every invitation, newest first, with its status) and POST (invite).

    /api/v1/w/<workspace_slug>/invitations/
    """

    write_action = Action.MANAGE_MEMBERS

    class InputSerializer(serializers.Serializer):
        email = serializers.EmailField()
        # Ownership is transferred, never offered in an invitation.
        role = serializers.ChoiceField(choices=[c for c in Membership.Role.choices if c[0] != Membership.Role.OWNER])

    def get(self, request, workspace_slug):
        invitations = Invitation.objects.for_workspace(self.workspace).select_related("invited_by")
        return paginated_response(
            serializer_class=InvitationOutputSerializer,
            queryset=invitations.order_by("-created_at", "-pk"),
            request=request,
            view=self,
        )

    def post(self, request, workspace_slug):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        # The raw token goes out in the invitation email only; the API does not return it.
        invitation, _token = services.invite_member(
            workspace=self.workspace,
            invited_by=self.access.actor_for(Action.MANAGE_MEMBERS),
            email=serializer.validated_data["email"],
            role=serializer.validated_data["role"],
        )
        return Response(InvitationOutputSerializer(invitation).data, status=status.HTTP_201_CREATED)


class InvitationDetailApi(WorkspaceAPIView):
    """GET and DELETE (revoke) /api/v1/w/<workspace_slug>/invitations/<pk>/."""

    scoped_model = Invitation
    write_action = Action.MANAGE_MEMBERS

    def get(self, request, workspace_slug, pk):
        return Response(InvitationOutputSerializer(self.object).data)

    def delete(self, request, workspace_slug, pk):
        services.revoke_invitation(invitation=self.object, actor=self.access.actor_for(Action.MANAGE_MEMBERS))
        return Response(status=status.HTTP_204_NO_CONTENT)
