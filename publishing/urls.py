"""Pages of publishing: connections and the OAuth callback, posts, the calendar, and the emergency stop."""

from __future__ import annotations

from django.urls import path

from publishing import views, views_calendar, views_posts, views_review, views_stop

app_name = "publishing"
urlpatterns = [
    path("w/<slug:workspace_slug>/connections/", views.ConnectionsView.as_view(), name="connections"),
    path("w/<slug:workspace_slug>/connections/connect/<slug:platform>/", views.ConnectView.as_view(), name="connect"),
    path("w/<slug:workspace_slug>/connections/<int:pk>/reconnect/", views.ReconnectView.as_view(), name="reconnect"),
    path("w/<slug:workspace_slug>/connections/<int:pk>/disconnect/", views.DisconnectView.as_view(), name="disconnect"),
    # Not under a workspace: the redirect URI registered with each platform must be one fixed address.
    path("connections/callback/<slug:platform>/", views.OAuthCallbackView.as_view(), name="oauth_callback"),
    # Posts: the list, one post's delivery (retry, cancel, history), the composer.
    path("w/<slug:workspace_slug>/posts/", views_posts.PostListView.as_view(), name="posts"),
    path("w/<slug:workspace_slug>/posts/new/", views_posts.PostCreateView.as_view(), name="post_create"),
    path("w/<slug:workspace_slug>/posts/<int:pk>/", views_posts.PostDetailView.as_view(), name="post_detail"),
    path("w/<slug:workspace_slug>/posts/<int:pk>/cancel/", views_posts.PostCancelView.as_view(), name="post_cancel"),
    # The content calendar: the workspace's targets by month or week, in the workspace's zone.
    path("w/<slug:workspace_slug>/calendar/", views_calendar.CalendarView.as_view(), name="calendar"),
    # The composer: edit, duplicate, and the live check of each platform's limits.
    path("w/<slug:workspace_slug>/posts/validate/", views_posts.PostValidateView.as_view(), name="post_validate"),
    path("w/<slug:workspace_slug>/posts/<int:pk>/edit/", views_posts.PostEditView.as_view(), name="post_edit"),
    path(
        "w/<slug:workspace_slug>/posts/<int:pk>/duplicate/",
        views_posts.PostDuplicateView.as_view(),
        name="post_duplicate",
    ),
    path(
        "w/<slug:workspace_slug>/posts/<int:pk>/schedule/",
        views_review.PostScheduleView.as_view(),
        name="post_schedule",
    ),
    path("w/<slug:workspace_slug>/targets/<int:pk>/retry/", views_posts.TargetRetryView.as_view(), name="target_retry"),
    # Review on the site, for the workspace's approvers (the same services staff use in admin).
    path("w/<slug:workspace_slug>/review/", views_review.ReviewQueueView.as_view(), name="review_queue"),
    path(
        "w/<slug:workspace_slug>/posts/<int:pk>/approve/", views_review.PostApproveView.as_view(), name="post_approve"
    ),
    path("w/<slug:workspace_slug>/posts/<int:pk>/reject/", views_review.PostRejectView.as_view(), name="post_reject"),
    path(
        "w/<slug:workspace_slug>/posts/<int:pk>/request-changes/",
        views_review.PostRequestChangesView.as_view(),
        name="post_request_changes",
    ),
    # The workspace's emergency stop (the global one is in the admin).
    path("w/<slug:workspace_slug>/emergency-stop/", views_stop.EmergencyStopView.as_view(), name="emergency_stop"),
]
