"""Tokens at rest: encrypted, rotatable, and never used when the key is wrong or missing."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet, MultiFernet
from django.core.management import CommandError, call_command
from django.db.models import F, TextField, Value
from django.db.models.functions import Cast
from encrypted_model_fields import fields as encrypted_fields

from publishing.connections import UNDECRYPTABLE_MESSAGE, TokenUnavailable, credentials_for
from publishing.fields import UndecryptableValue, is_undecryptable
from publishing.models import MastodonApp, SocialAccount
from tests.factories import WorkspaceFactory

pytestmark = pytest.mark.django_db

KEY_A = Fernet.generate_key().decode()
KEY_B = Fernet.generate_key().decode()


@pytest.fixture
def use_keys(monkeypatch):
    """Configure FIELD_ENCRYPTION_KEY for the rest of the test: the library builds its crypter at import."""

    def configure(*keys: str) -> None:
        monkeypatch.setattr(encrypted_fields, "CRYPTER", MultiFernet([Fernet(key) for key in keys]))

    return configure


def _account(**values) -> SocialAccount:
    defaults = {
        "workspace": WorkspaceFactory(),
        "platform": "x",
        "account_id": "42",
        "handle": "alice",
        "access_token": "access-plain",
        "refresh_token": "refresh-plain",
    }
    return SocialAccount.objects.create(**{**defaults, **values})


def _stored(model, pk, field: str) -> str:
    """The column as stored, without the field's decryption."""
    return model.objects.annotate(raw=Cast(field, output_field=TextField())).values_list("raw", flat=True).get(pk=pk)


def test_tokens_are_stored_encrypted_and_read_back_decrypted():
    account = _account()

    stored = _stored(SocialAccount, account.pk, "access_token")
    reloaded = SocialAccount.objects.get(pk=account.pk)

    assert "access-plain" not in stored
    assert encrypted_fields.CRYPTER.decrypt(stored.encode()).decode() == "access-plain"
    assert (reloaded.access_token, reloaded.refresh_token) == ("access-plain", "refresh-plain")
    assert not is_undecryptable(reloaded.access_token)


def test_a_wrong_key_loads_a_flagged_empty_value_never_the_ciphertext(use_keys, caplog):
    use_keys(KEY_A)
    account = _account()
    ciphertext = _stored(SocialAccount, account.pk, "access_token")
    use_keys(KEY_B)

    with caplog.at_level(logging.ERROR, logger="publishing.fields"):
        reloaded = SocialAccount.objects.get(pk=account.pk)

    assert isinstance(reloaded.access_token, UndecryptableValue)
    assert reloaded.access_token == ""
    assert ciphertext not in str(reloaded.access_token)
    assert repr(reloaded.access_token) == "<undecryptable value>"
    assert "publishing.SocialAccount.access_token" in caplog.text
    assert ciphertext not in caplog.text


def test_credentials_refuse_an_undecryptable_token_and_mark_the_account(use_keys, caplog):
    use_keys(KEY_A)
    account = _account()
    ciphertext = _stored(SocialAccount, account.pk, "access_token")
    use_keys(KEY_B)
    reloaded = SocialAccount.objects.get(pk=account.pk)

    with pytest.raises(TokenUnavailable) as caught, caplog.at_level(logging.INFO):
        credentials_for(reloaded)

    assert caught.value.message == UNDECRYPTABLE_MESSAGE
    assert caught.value.message.startswith("The encryption key is wrong or missing: cannot use the token.")
    saved = SocialAccount.objects.get(pk=account.pk)
    assert (saved.status, saved.last_error) == (SocialAccount.Status.ERROR, UNDECRYPTABLE_MESSAGE)
    assert ciphertext not in caplog.text


def test_saving_a_row_read_with_the_wrong_key_keeps_the_stored_secret(use_keys):
    use_keys(KEY_A)
    account = _account()
    before = _stored(SocialAccount, account.pk, "access_token")
    use_keys(KEY_B)
    reloaded = SocialAccount.objects.get(pk=account.pk)

    reloaded.handle = "alice_renamed"
    reloaded.save()

    assert _stored(SocialAccount, account.pk, "access_token") == before
    use_keys(KEY_A)
    assert SocialAccount.objects.get(pk=account.pk).access_token == "access-plain"


def test_credentials_carry_the_decrypted_tokens():
    account = _account(config={"username": "alice"})

    credentials = credentials_for(account)

    assert (credentials.access_token, credentials.refresh_token, credentials.account_id) == (
        "access-plain",
        "refresh-plain",
        "42",
    )
    assert "access-plain" not in repr(credentials)


def test_rotation_re_encrypts_every_field_with_the_first_key(use_keys):
    use_keys(KEY_A)
    account = _account()
    app = MastodonApp.objects.create(
        instance="mastodon.example", client_id="cid", client_secret="app-secret", redirect_uri="http://x.test/cb"
    )
    use_keys(KEY_B, KEY_A)

    call_command("rotate_encryption_keys")

    use_keys(KEY_B)  # the old key is gone
    reloaded = SocialAccount.objects.get(pk=account.pk)
    assert (reloaded.access_token, reloaded.refresh_token, reloaded.app_password) == (
        "access-plain",
        "refresh-plain",
        "",
    )
    assert MastodonApp.objects.get(pk=app.pk).client_secret == "app-secret"


def test_a_dry_run_changes_nothing(use_keys, capsys):
    use_keys(KEY_A)
    account = _account()
    before = _stored(SocialAccount, account.pk, "access_token")
    use_keys(KEY_B, KEY_A)

    call_command("rotate_encryption_keys", "--dry-run")

    assert _stored(SocialAccount, account.pk, "access_token") == before
    output = capsys.readouterr().out
    assert "publishing.SocialAccount.access_token: 1 value(s) would be re-encrypted" in output
    assert "Dry run:" in output


def test_rotation_refuses_when_a_value_cannot_be_decrypted(use_keys):
    use_keys(KEY_A)
    lost = _account()
    lost_ciphertext = _stored(SocialAccount, lost.pk, "access_token")
    use_keys(KEY_B)
    readable = _account(account_id="43", handle="bob")
    readable_before = _stored(SocialAccount, readable.pk, "access_token")

    with pytest.raises(CommandError) as caught:
        call_command("rotate_encryption_keys")

    message = str(caught.value)
    assert "nothing was re-encrypted" in message
    assert "publishing.SocialAccount.access_token: 1 row(s)" in message
    assert "publishing.SocialAccount.refresh_token: 1 row(s)" in message
    assert lost_ciphertext not in message
    assert _stored(SocialAccount, lost.pk, "access_token") == lost_ciphertext
    assert _stored(SocialAccount, readable.pk, "access_token") == readable_before


def test_rotation_skips_a_value_the_app_changed_meanwhile(use_keys):
    from publishing.management.commands.rotate_encryption_keys import _write, scan

    use_keys(KEY_A)
    account = _account()
    use_keys(KEY_B, KEY_A)
    result = scan(SocialAccount, SocialAccount._meta.get_field("access_token"))
    SocialAccount.objects.filter(pk=account.pk).update(access_token="refreshed-meanwhile")

    stored, ciphertext = result.rotated[account.pk]
    written = _write(result, account.pk, stored, ciphertext)

    assert written == 0
    assert SocialAccount.objects.get(pk=account.pk).access_token == "refreshed-meanwhile"


def test_queryset_updates_store_encrypted_values():
    account = _account()

    SocialAccount.objects.filter(pk=account.pk).update(access_token="plain-update")
    after_plain = SocialAccount.objects.get(pk=account.pk).access_token
    SocialAccount.objects.filter(pk=account.pk).update(access_token=Value("value-update"))
    after_value = SocialAccount.objects.get(pk=account.pk).access_token
    SocialAccount.objects.filter(pk=account.pk).update(access_token=F("refresh_token"))
    after_copy = SocialAccount.objects.get(pk=account.pk).access_token

    assert (after_plain, after_value, after_copy) == ("plain-update", "value-update", "refresh-plain")
    assert "refresh-plain" not in _stored(SocialAccount, account.pk, "access_token")
