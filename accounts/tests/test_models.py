from __future__ import annotations

import pytest
from django.contrib.auth import authenticate, get_user_model
from django.db import IntegrityError

from accounts.models import Membership, User
from accounts.services import create_workspace
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db


def test_the_user_model_logs_in_with_email_and_has_no_username():
    assert get_user_model() is User
    assert User.USERNAME_FIELD == "email"
    assert not hasattr(User(), "username") or User().username is None


def test_create_user_normalises_the_email_domain_and_hashes_the_password():
    user = User.objects.create_user(email="Ann@Example.COM", password="Sup3r-secret!")

    assert user.email == "Ann@example.com"
    assert user.password != "Sup3r-secret!"
    assert user.check_password("Sup3r-secret!")
    assert not user.is_staff and not user.is_superuser


def test_emails_are_unique_regardless_of_case():
    User.objects.create_user(email="ann@example.com", password="x")

    with pytest.raises(IntegrityError):
        User.objects.create_user(email="ANN@example.com", password="x")


def test_authenticate_by_email_in_any_case(rf):
    user = UserFactory(email="bob@example.com")

    assert authenticate(rf.get("/"), username="BOB@example.com", password=DEFAULT_PASSWORD) == user
    assert authenticate(rf.get("/"), username="bob@example.com", password="wrong") is None


def test_create_superuser_is_staff():
    admin = User.objects.create_superuser(email="root@example.com", password="x")

    assert admin.is_staff and admin.is_superuser


def test_create_user_requires_an_email():
    with pytest.raises(ValueError, match="email address is required"):
        User.objects.create_user(email="", password="x")


def test_create_workspace_makes_its_creator_the_owner_and_keeps_slugs_unique():
    owner = UserFactory()

    first = create_workspace(owner=owner, name="Acme Coffee")
    second = create_workspace(owner=owner, name="Acme Coffee")

    assert (first.slug, second.slug) == ("acme-coffee", "acme-coffee-2")
    assert Membership.objects.get(user=owner, workspace=first).role == Membership.Role.OWNER
