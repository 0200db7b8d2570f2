"""The document upload form. The real checks (plan, size, type from the bytes) are in content.documents."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError

from content.documents import ACCEPTED_TYPES, MAX_UPLOAD_BYTES

# Offered to the browser's file picker only; the type is always detected from the bytes.
ACCEPT = ".pdf,.docx,.pptx,.txt,.png,.jpg,.jpeg,.webp,application/pdf,text/plain,image/png,image/jpeg,image/webp"
TOO_LARGE = (
    f"This file is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB, the most a document can be. "
    "Upload a shorter version, or a PDF of the pages that matter."
)


class DocumentUploadForm(forms.Form):
    file = forms.FileField(
        label="Document",
        help_text=f"A {ACCEPTED_TYPES}; at most {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
        error_messages={
            "required": "Choose a file to upload.",
            "empty": "The file is empty.",
            "invalid": "No file was received; choose the file again.",
        },
        widget=forms.FileInput(attrs={"class": "form-control", "accept": ACCEPT}),
    )

    def __init__(self, *args, too_large: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The upload handler dropped an oversized file while it arrived: say so, not "choose a file".
        self.too_large = too_large
        if too_large:
            self.fields["file"].required = False

    def clean_file(self):
        if self.too_large:
            raise ValidationError(TOO_LARGE, code="size")
        return self.cleaned_data["file"]
