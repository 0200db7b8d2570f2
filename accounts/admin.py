"""Staff views of users, workspaces, memberships and invitations: search, filters, cheap list pages.

Invitations are read-only here: their tokens exist only in the emailed link
(the hash is never shown), and inviting or revoking goes through the services
on the members page so the rules stay in one place.
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from accounts.models import Invitation, Membership, User, Workspace


class UserMembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "user"
    extra = 0
    fields = ("workspace", "role", "created_at", "last_used_at")
    readonly_fields = ("created_at", "last_used_at")
    autocomplete_fields = ("workspace",)
    verbose_name_plural = "workspaces"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    ordering = ("email",)
    list_display = ("email", "name", "workspace_count", "is_staff", "is_active", "date_joined", "last_login")
    list_filter = ("is_staff", "is_superuser", "is_active", "date_joined")
    search_fields = ("email", "name")
    date_hierarchy = "date_joined"
    fieldsets = (
        (None, {"fields": ("email", "password")}),
        (_("Personal info"), {"fields": ("name",)}),
        (_("Permissions"), {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        (_("Important dates"), {"fields": ("last_login", "date_joined")}),
    )
    add_fieldsets = ((None, {"classes": ("wide",), "fields": ("email", "password1", "password2")}),)
    readonly_fields = ("last_login", "date_joined")
    inlines = [UserMembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[User]:
        return super().get_queryset(request).annotate(workspace_count=Count("memberships", distinct=True))

    @admin.display(description="workspaces", ordering="workspace_count")
    def workspace_count(self, obj: User) -> int:
        return obj.workspace_count  # type: ignore[attr-defined]


class WorkspaceMembershipInline(admin.TabularInline):
    model = Membership
    fk_name = "workspace"
    extra = 0
    fields = ("user", "role", "created_at", "last_used_at")
    readonly_fields = ("created_at", "last_used_at")
    autocomplete_fields = ("user",)


class OnboardedFilter(admin.SimpleListFilter):
    title = "onboarding"
    parameter_name = "onboarded"

    def lookups(self, request, model_admin):
        return [("yes", "Finished"), ("no", "Not finished")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(onboarding_step=Workspace.OnboardingStep.DONE)
        if self.value() == "no":
            return queryset.exclude(onboarding_step=Workspace.OnboardingStep.DONE)
        return queryset


@admin.register(Workspace)
class WorkspaceAdmin(admin.ModelAdmin):
    list_display = ("name", "slug", "owner_email", "member_count", "timezone", "onboarding_step", "created_at")
    list_filter = (OnboardedFilter, "onboarding_step", "created_at")
    search_fields = ("name", "slug", "memberships__user__email")
    date_hierarchy = "created_at"
    prepopulated_fields = {"slug": ("name",)}
    readonly_fields = ("created_at", "onboarding_completed_at")
    inlines = [WorkspaceMembershipInline]

    def get_queryset(self, request: HttpRequest) -> QuerySet[Workspace]:
        owners = Membership.objects.filter(role=Membership.Role.OWNER).select_related("user")
        return (
            super()
            .get_queryset(request)
            .annotate(member_count=Count("memberships", distinct=True))
            .prefetch_related(Prefetch("memberships", queryset=owners, to_attr="owners"))
        )

    @admin.display(description="members", ordering="member_count")
    def member_count(self, obj: Workspace) -> int:
        return obj.member_count  # type: ignore[attr-defined]

    @admin.display(description="owner")
    def owner_email(self, obj: Workspace) -> str:
        owners = getattr(obj, "owners", None)
        return owners[0].user.email if owners else "—"


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ("user", "workspace", "role", "created_at", "last_used_at")
    list_filter = ("role", "created_at")
    search_fields = ("user__email", "user__name", "workspace__name", "workspace__slug")
    list_select_related = ("user", "workspace")
    autocomplete_fields = ("user", "workspace")
    readonly_fields = ("created_at", "last_used_at")


class InvitationStatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [("pending", "Pending"), ("expired", "Expired"), ("accepted", "Accepted"), ("revoked", "Revoked")]

    def queryset(self, request, queryset):
        now = timezone.now()
        open_ = Q(accepted_at__isnull=True, revoked_at__isnull=True)
        filters = {
            "pending": open_ & Q(expires_at__gt=now),
            "expired": open_ & Q(expires_at__lte=now),
            "accepted": Q(accepted_at__isnull=False),
            "revoked": Q(accepted_at__isnull=True, revoked_at__isnull=False),
        }
        return queryset.filter(filters[self.value()]) if self.value() in filters else queryset


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ("email", "workspace", "role", "status", "invited_by", "created_at", "expires_at", "accepted_at")
    list_filter = (InvitationStatusFilter, "role", "created_at", "expires_at")
    search_fields = ("email", "workspace__name", "workspace__slug", "invited_by__email")
    list_select_related = ("workspace", "invited_by")
    date_hierarchy = "created_at"
    # token_hash is deliberately absent: never shown, never editable.
    fields = (
        "workspace",
        "email",
        "role",
        "status",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    )
    readonly_fields = fields

    @admin.display(description="status")
    def status(self, obj: Invitation) -> str:
        return obj.status

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Invitation | None = None) -> bool:
        return False
