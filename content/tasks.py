"""Thin Celery entry points for content: each takes ids and calls one service."""

from __future__ import annotations

import logging

from celery import shared_task
from django.conf import settings

from content.documents import process_document

logger = logging.getLogger(__name__)

# Reading stops itself at DOCUMENT_EXTRACT_MAX_SECONDS between pages; these limits catch a parser stuck inside one
# page. The soft limit raises in the task (the document fails "took too long"); the hard one kills the child, and
# process_document's start marker then fails the document instead of retrying the same file forever.
_EXTRACT_SECONDS = float(getattr(settings, "DOCUMENT_EXTRACT_MAX_SECONDS", 60.0))


@shared_task(
    name="content.extract_document",
    soft_time_limit=_EXTRACT_SECONDS + 60,
    time_limit=_EXTRACT_SECONDS + 90,
)
def extract_document_task(document_id: int) -> str:
    """Read an uploaded document's text and key points (content.documents.process_document)."""
    document = process_document(document_id=document_id)
    outcome = "deleted" if document is None else document.status
    logger.info("Extract document %s: %s", document_id, outcome)
    return outcome
