"""Document pages: the workspace's documents, upload, one document (key points, text preview), delete.

Thin views: they parse input, call `content.documents`, and render or redirect.
Editors upload and delete; every member may read. Object ids are always fetched
through `get_scoped_or_404`.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, SkipFile
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.utils.decorators import method_decorator
from django.views import View
from django.views.decorators.csrf import csrf_exempt, csrf_protect

from accounts.permissions import Action, can
from accounts.scoping import get_scoped_or_404
from accounts.views.mixins import WorkspaceMixin
from billing.limits import plan_for
from content import documents
from content.forms_documents import DocumentUploadForm
from content.models import Document

DS = Document.Status
DOCUMENTS_PER_PAGE = 25
STATUS_BADGES: dict[str, str] = {
    DS.PROCESSING: "text-bg-info",
    DS.READY: "text-bg-success",
    DS.FAILED: "text-bg-danger",
}


@dataclass(frozen=True)
class DocumentRow:
    document: Document
    badge: str
    kind_label: str


def _row(document: Document) -> DocumentRow:
    return DocumentRow(
        document=document,
        badge=STATUS_BADGES.get(document.status, "text-bg-secondary"),
        kind_label=documents.KIND_LABELS.get(document.kind, document.kind),
    )


class ObjectFirstMixin:
    """Look the URL's document up before refusing a method, so another workspace's id is 404 for every method."""

    def http_method_not_allowed(self, request: HttpRequest, *args, **kwargs) -> HttpResponse:
        get_scoped_or_404(Document, self.workspace, pk=kwargs["pk"])  # type: ignore[attr-defined]
        return super().http_method_not_allowed(request, *args, **kwargs)  # type: ignore[misc]


class DocumentListView(WorkspaceMixin, View):
    """GET: the workspace's documents, newest first. `?poll=1` answers JSON: the ids still processing."""

    template_name = "content/document_list.html"
    required_action = Action.VIEW

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        scoped = Document.objects.for_workspace(self.workspace)
        processing = ",".join(
            str(pk) for pk in scoped.filter(status=DS.PROCESSING).order_by("pk").values_list("pk", flat=True)
        )
        if request.GET.get("poll") == "1":
            return JsonResponse({"value": processing})
        page = Paginator(
            scoped.defer("extracted_text").select_related("uploaded_by").order_by("-created_at", "-pk"),
            DOCUMENTS_PER_PAGE,
        ).get_page(request.GET.get("page"))
        plan = plan_for(self.workspace)
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "page": page,
            "rows": [_row(document) for document in page.object_list],
            "plan": plan,
            "may_upload": can(self.membership.role, Action.EDIT_CONTENT) and plan.document_context,
            "processing": processing,
        }
        return render(request, self.template_name, context)


class UploadSizeCap(FileUploadHandler):
    """Stop storing an upload once it passes the limit, so a huge file never fills the server's disk."""

    def __init__(self, request: HttpRequest, *, limit: int) -> None:
        super().__init__(request)
        self.limit = limit
        self.request.document_upload_too_large = False  # type: ignore[attr-defined]

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        if start + len(raw_data) > self.limit:
            self.request.document_upload_too_large = True  # type: ignore[attr-defined]
            raise SkipFile
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None


# CSRF is checked inside `post`, after the size cap is installed: the CSRF middleware would otherwise read the
# whole upload (to find the token) before the view could limit it.
@method_decorator(csrf_exempt, name="dispatch")
class DocumentUploadView(WorkspaceMixin, View):
    """GET: the upload form (or, on the free plan, the upgrade note). POST: store it and start reading it."""

    template_name = "content/document_upload.html"
    required_action = Action.EDIT_CONTENT

    def render_page(self, form: DocumentUploadForm, *, status: int = 200) -> HttpResponse:
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "form": form,
            "plan": plan_for(self.workspace),
            "ocr_available": documents.ocr_available(),
            "max_mb": documents.MAX_UPLOAD_BYTES // (1024 * 1024),
        }
        return render(self.request, self.template_name, context, status=status)

    def get(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        return self.render_page(DocumentUploadForm())

    def post(self, request: HttpRequest, workspace_slug: str) -> HttpResponse:
        request.upload_handlers.insert(0, UploadSizeCap(request, limit=documents.MAX_UPLOAD_BYTES))
        return self._post(request)

    @method_decorator(csrf_protect)
    def _post(self, request: HttpRequest) -> HttpResponse:
        files = request.FILES  # parses the upload, through the size cap
        too_large = getattr(request, "document_upload_too_large", False)
        form = DocumentUploadForm(request.POST, files, too_large=too_large)
        if not form.is_valid():
            return self.render_page(form, status=400)
        try:
            document = documents.upload_document(
                workspace=self.workspace, actor=request.user, uploaded_file=form.cleaned_data["file"]
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error("file", message)
            return self.render_page(form, status=400)
        messages.info(request, "Reading your document… Its key points appear here in a moment.")
        return redirect("content_documents:detail", workspace_slug=self.workspace.slug, pk=document.pk)


class DocumentDetailView(ObjectFirstMixin, WorkspaceMixin, View):
    """GET: one document: status, error, key points and how they were made, a text preview. `?poll=1`: JSON."""

    template_name = "content/document_detail.html"
    required_action = Action.VIEW

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        document = get_scoped_or_404(Document, self.workspace, pk=pk)
        if request.GET.get("poll") == "1":
            return JsonResponse({"value": document.status})
        preview = document.extracted_text[: documents.PREVIEW_CHARS]
        context = {
            "workspace": self.workspace,
            "membership": self.membership,
            "document": document,
            "row": _row(document),
            "preview": preview,
            "preview_is_partial": len(document.extracted_text) > len(preview),
            "is_stale": documents.is_stale(document),
            "may_delete": can(self.membership.role, Action.EDIT_CONTENT),
        }
        return render(request, self.template_name, context)


class DocumentDeleteView(ObjectFirstMixin, WorkspaceMixin, View):
    """POST: delete the document and its file. GET: back to the document."""

    required_action = Action.EDIT_CONTENT

    def get(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        document = get_scoped_or_404(Document, self.workspace, pk=pk)
        return redirect("content_documents:detail", workspace_slug=self.workspace.slug, pk=document.pk)

    def post(self, request: HttpRequest, workspace_slug: str, pk: int) -> HttpResponse:
        document = get_scoped_or_404(Document, self.workspace, pk=pk)
        name = document.original_name
        try:
            documents.delete_document(workspace=self.workspace, actor=request.user, document=document)
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
            return redirect("content_documents:detail", workspace_slug=self.workspace.slug, pk=pk)
        messages.success(request, f"Deleted {name}.")
        return redirect("content_documents:list", workspace_slug=self.workspace.slug)
