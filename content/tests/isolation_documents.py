"""Tenant-isolation builders for the document pages (imported by tests/test_isolation.py)."""

from __future__ import annotations

from collections.abc import Callable

from accounts.models import Workspace


def _document_of(workspace: Workspace) -> dict[str, object]:
    from content.models import Document

    document = Document.objects.create(
        workspace=workspace,
        storage_name=f"isolation-{workspace.pk}.txt",
        file=f"documents/{workspace.pk}/isolation-{workspace.pk}.txt",
        original_name=f"Brief of {workspace.slug}.txt",
        kind="txt",
        size_bytes=12,
        status=Document.Status.READY,
        extracted_text="A brief.",
        key_points=["A brief."],
    )
    return {"pk": document.pk}


ID_BUILDERS: dict[str, Callable[[Workspace], dict[str, object]]] = {
    "content_documents:detail": _document_of,
    "content_documents:delete": _document_of,
}
