"""Forms of the media library: upload (several files), import from an address, alt text.

They check the shape of the input only; the files themselves are judged by
`content.media` (type from the bytes, plan limits, readability), one by one, so one
bad file does not sink the others.
"""

from __future__ import annotations

from django import forms

from content.media import ACCEPTED_TYPES, MAX_ALT_TEXT

MAX_FILES_PER_UPLOAD = 20
ALT_TEXT_HELP = "Describe the picture for people who cannot see it; platforms that take alt text get it too."


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files under one name; each is checked later by the media service, not here."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault(
            "widget",
            MultipleFileInput(attrs={"class": "form-control", "accept": ",".join(ACCEPTED_TYPES), "multiple": True}),
        )
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        files = [item for item in (data if isinstance(data, list | tuple) else [data]) if item]
        if not files:
            raise forms.ValidationError("Choose at least one image or video to upload.", code="required")
        if len(files) > MAX_FILES_PER_UPLOAD:
            raise forms.ValidationError(
                f"Upload at most {MAX_FILES_PER_UPLOAD} files at a time (you chose {len(files)}).", code="too_many"
            )
        return files


def _alt_text_field() -> forms.CharField:
    return forms.CharField(
        label="Alt text",
        required=False,
        max_length=MAX_ALT_TEXT,
        strip=True,
        help_text=ALT_TEXT_HELP,
        widget=forms.Textarea(attrs={"class": "form-control", "rows": 2, "maxlength": MAX_ALT_TEXT}),
    )


class UploadForm(forms.Form):
    files = MultipleFileField(label="Images or videos")
    alt_text = _alt_text_field()

    def __init__(self, *args, **kwargs):
        # Both forms share the library page: distinct ids keep the labels pointing at the right field.
        kwargs.setdefault("auto_id", "upload_%s")
        super().__init__(*args, **kwargs)
        self.fields["alt_text"].help_text = "Given to every file of this upload; you can change each one afterwards."


class ImportForm(forms.Form):
    # A CharField, not a URLField: the importer explains a bad address better than "Enter a valid URL".
    url = forms.CharField(
        label="Address of an image or a video",
        max_length=2000,
        strip=True,
        widget=forms.TextInput(
            attrs={"class": "form-control", "placeholder": "https://example.com/photo.jpg", "inputmode": "url"}
        ),
        error_messages={"required": "Enter the address of an image or a video."},
    )
    alt_text = _alt_text_field()

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "import_%s")
        super().__init__(*args, **kwargs)


class AltTextForm(forms.Form):
    alt_text = _alt_text_field()
