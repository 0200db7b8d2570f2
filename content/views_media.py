"""Media library pages (/w/<slug>/media/…) and the public, signed file URL (/m/<token>/).

Thin views: parse, call `content.media`, render or redirect. Objects are fetched
through `get_scoped_or_404`, so another workspace's ids are 404.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent, ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_safe

from accounts.permissions import Action, can
from accounts.scoping import get_scoped_or_404
from accounts.views.mixins import WorkspaceMixin
from billing.limits import plan_for
from content import media
from content.forms_media import MAX_FILES_PER_UPLOAD, AltTextForm, ImportForm, UploadForm
from content.models import MediaAsset, Post

ASSETS_PER_PAGE = 48
# Above the largest single file the plan takes, a multipart body carries this much besides the files.
REQUEST_OVERHEAD_BYTES = 1024 * 1024


@dataclass(frozen=True)
class AssetCard:
    asset: MediaAsset
    thumbnail_url: str
    label: str  # "JPEG", "MP4"


def _card(asset: MediaAsset) -> AssetCard:
    thumbnail = media.signed_media_path(asset, thumbnail=True) if asset.thumbnail else ""
    return AssetCard(asset=asset, thumbnail_url=thumbnail, label=_type_label(asset.content_type))


def _type_label(content_type: str) -> str:
    return media.ACCEPTED_TYPES.get(content_type, ("", "", content_type))[2]


def _max_request_bytes(workspace) -> int:
    plan = plan_for(workspace)
    return max(plan.max_video_bytes, plan.max_image_bytes * MAX_FILES_PER_UPLOAD) + REQUEST_OVERHEAD_BYTES


def _render_library(
    request: HttpRequest,
    view: WorkspaceMixin,
    *,
    upload_form: UploadForm | None = None,
    import_form: ImportForm | None = None,
    status: int = 200,
) -> HttpResponse:
    workspace = view.workspace
    kind = request.GET.get("kind", "")
    assets = media.library_assets(workspace)
    if kind in MediaAsset.Kind.values:
        assets = assets.filter(kind=kind)
    else:
        kind = ""
    page = Paginator(assets, ASSETS_PER_PAGE).get_page(request.GET.get("page"))
    plan = plan_for(workspace)
    context = {
        "workspace": workspace,
        "membership": view.membership,
        "page": page,
        "cards": [_card(asset) for asset in page.object_list],
        "kind": kind,
        "kinds": MediaAsset.Kind.choices,
        "may_edit": can(view.membership.role, Action.EDIT_CONTENT),
        "upload_form": upload_form or UploadForm(),
        "import_form": import_form or ImportForm(),
        "plan": plan,
        "max_image": media.human_size(plan.max_image_bytes),
        "max_video": media.human_size(plan.max_video_bytes),
        "max_files": MAX_FILES_PER_UPLOAD,
        "accepted": media.ACCEPTED_SUMMARY,
    }
    return render(request, "content/media_library.html", context, status=status)


class MediaLibraryView(WorkspaceMixin, View):
    required_action = Action.VIEW

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        return _render_library(request, self)


# CSRF is checked by hand, after the size check: the middleware would read (and spool to disk) the whole body first.
@method_decorator(csrf_exempt, name="dispatch")
class MediaUploadView(WorkspaceMixin, View):
    required_action = Action.EDIT_CONTENT

    def post(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        limit = _max_request_bytes(self.workspace)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        if length > limit:
            messages.error(
                request,
                f"These files add up to {media.human_size(length)}; one upload can carry up to "
                f"{media.human_size(limit)}. Upload fewer files at a time.",
            )
            return _render_library(request, self, status=413)
        refused = CsrfViewMiddleware(lambda req: HttpResponse()).process_view(request, None, (), {})
        if refused is not None:
            return refused
        try:
            form = UploadForm(request.POST, request.FILES)
            is_valid = form.is_valid()
        except (TooManyFilesSent, TooManyFieldsSent, RequestDataTooBig):
            messages.error(request, f"Upload at most {MAX_FILES_PER_UPLOAD} files at a time.")
            return _render_library(request, self, status=400)
        if not is_valid:
            return _render_library(request, self, upload_form=form, status=400)
        for uploaded in form.cleaned_data["files"]:
            name = media.clean_name(uploaded.name) or "The file"
            try:
                asset = media.upload_media(
                    workspace=self.workspace,
                    actor=request.user,
                    uploaded_file=uploaded,
                    alt_text=form.cleaned_data["alt_text"],
                )
            except ValidationError as exc:
                messages.error(request, f"{name}: {' '.join(exc.messages)}")
                continue
            _report(request, name, asset)
        return redirect("content_media:library", workspace_slug=self.workspace.slug)


def _report(request: HttpRequest, name: str, asset: MediaAsset) -> None:
    for note in getattr(asset, "ingest_notes", ()):
        messages.warning(request, f"{name}: {note}")
    if getattr(asset, "already_in_library", False):
        messages.info(request, f"{name}: already in your library, so the existing copy was kept.")
        return
    size = f"{asset.width} x {asset.height}, " if asset.width and asset.height else ""
    messages.success(
        request, f"{name}: added ({size}{_type_label(asset.content_type)}, {media.human_size(asset.size_bytes)})."
    )


class MediaImportView(WorkspaceMixin, View):
    required_action = Action.EDIT_CONTENT

    def post(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        form = ImportForm(request.POST)
        if not form.is_valid():
            return _render_library(request, self, import_form=form, status=400)
        try:
            asset = media.import_media_from_url(
                workspace=self.workspace,
                actor=request.user,
                url=form.cleaned_data["url"],
                alt_text=form.cleaned_data["alt_text"],
            )
        except ValidationError as exc:
            form.add_error("url", " ".join(exc.messages))
            return _render_library(request, self, import_form=form, status=400)
        _report(request, asset.original_name or "The imported file", asset)
        return redirect("content_media:library", workspace_slug=self.workspace.slug)


def _render_detail(
    request: HttpRequest, view: WorkspaceMixin, asset: MediaAsset, *, alt_form: AltTextForm | None = None, status=200
) -> HttpResponse:
    posts = Post.objects.for_workspace(view.workspace).filter(media__asset=asset).distinct().order_by("-created_at")
    context = {
        "workspace": view.workspace,
        "membership": view.membership,
        "asset": asset,
        "label": _type_label(asset.content_type),
        "size": media.human_size(asset.size_bytes),
        "file_url": media.signed_media_path(asset, expires_in=timedelta(hours=12)),
        "thumbnail_url": media.signed_media_path(asset, thumbnail=True) if asset.thumbnail else "",
        "fits": [media.describe_fit(asset, platform) for platform in media.PLATFORM_RATIOS],
        "posts": posts[:20],
        "post_count": posts.count(),
        "may_edit": can(view.membership.role, Action.EDIT_CONTENT),
        "alt_form": alt_form or AltTextForm(initial={"alt_text": asset.alt_text}),
    }
    return render(request, "content/media_detail.html", context, status=status)


class _AssetMixin:
    """Fetch the URL's asset (in this workspace, else 404) before the method is looked at.

    So another workspace's id is 404 for every method, never a 405 that would confirm nothing
    but still differs from an id that does not exist.
    """

    def dispatch(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        self.asset = get_scoped_or_404(MediaAsset, self.workspace, pk=kwargs["pk"])
        return super().dispatch(request, *args, **kwargs)


class MediaDetailView(WorkspaceMixin, _AssetMixin, View):
    required_action = Action.VIEW

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        return _render_detail(request, self, self.asset)


class MediaAltTextView(WorkspaceMixin, _AssetMixin, View):
    required_action = Action.EDIT_CONTENT

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        asset = self.asset
        form = AltTextForm(request.POST)
        if not form.is_valid():
            return _render_detail(request, self, asset, alt_form=form, status=400)
        try:
            media.update_alt_text(asset=asset, actor=request.user, alt_text=form.cleaned_data["alt_text"])
        except ValidationError as exc:
            form.add_error("alt_text", " ".join(exc.messages))
            return _render_detail(request, self, asset, alt_form=form, status=400)
        messages.success(request, "Alt text saved." if asset.alt_text else "Alt text removed.")
        return redirect("content_media:detail", workspace_slug=self.workspace.slug, pk=asset.pk)


class MediaDeleteView(WorkspaceMixin, _AssetMixin, View):
    required_action = Action.EDIT_CONTENT

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        asset = self.asset
        name = str(asset)
        try:
            media.delete_media(asset=asset, actor=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect("content_media:detail", workspace_slug=self.workspace.slug, pk=asset.pk)
        messages.success(request, f"Deleted {name}.")
        return redirect("content_media:library", workspace_slug=self.workspace.slug)


# --------------------------------------------------------------------------- public, signed


@require_safe
def public_file(request: HttpRequest, token: str) -> HttpResponse:
    """Stream the file a signed token names; anything wrong with the token is a plain 404."""
    signed = media.resolve_signed_token(token)
    if signed is None:
        raise Http404("This media link is not valid or has expired.")
    try:
        handle = signed.file.open("rb")
    except (FileNotFoundError, OSError) as exc:
        raise Http404("This media file is gone.") from exc
    response = FileResponse(handle, content_type=signed.content_type, filename=signed.download_name)
    response["X-Content-Type-Options"] = "nosniff"
    # The file is ours to show, never a page: no scripts, no plugins, even if a browser were fooled.
    response["Content-Security-Policy"] = "default-src 'none'; img-src 'self'; media-src 'self'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response
