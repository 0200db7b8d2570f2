"""Forms of the connections page. They only read input; the services check it."""

from __future__ import annotations

from django import forms


class MastodonInstanceForm(forms.Form):
    instance = forms.CharField(
        label="Your Mastodon server",
        max_length=300,
        widget=forms.TextInput(
            attrs={
                "placeholder": "mastodon.social",
                "autocomplete": "off",
                "spellcheck": "false",
                "class": "form-control",
            }
        ),
        help_text="The server your account lives on, e.g. mastodon.social or fosstodon.org.",
    )


class BlueskyConnectForm(forms.Form):
    identifier = forms.CharField(
        label="Handle",
        max_length=253,
        widget=forms.TextInput(
            attrs={"placeholder": "alice.bsky.social", "autocomplete": "username", "class": "form-control"}
        ),
    )
    app_password = forms.CharField(
        label="App password",
        max_length=100,
        strip=True,
        # Never echoed back into the page, not even after an error.
        widget=forms.PasswordInput(
            render_value=False,
            attrs={"placeholder": "xxxx-xxxx-xxxx-xxxx", "autocomplete": "off", "class": "form-control"},
        ),
        help_text="Create one in Bluesky under Settings → Privacy and security → App passwords. "
        "Never use your main password.",
    )
    pds = forms.CharField(
        label="PDS (only if you host your own)",
        max_length=300,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "bsky.social", "autocomplete": "off", "class": "form-control"}),
    )
