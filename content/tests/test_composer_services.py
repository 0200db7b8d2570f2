"""The composer's services: tags, media, links, template and domain on create/edit, duplicate, and what is sent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from unittest import mock

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch

from content.models import ContentDomain, MediaAsset, Post, PostMedia, Tag, Template
from publishing.models import AutomationSettings, PostEvent, PostTarget
from publishing.scheduling import (
    BACK_TO_REVIEW_REASON,
    approve_post,
    create_post,
    duplicate_post,
    edit_post,
    schedule_post,
    submit_for_review,
)
from publishing.tests.factories import SocialAccountFactory
from publishing.variants import variant_for_target
from tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

PS, TS = Post.Status, PostTarget.Status
FUTURE = datetime.now(tz=UTC).replace(microsecond=0) + timedelta(days=30)


@pytest.fixture(autouse=True)
def dispatches(monkeypatch):
    """Scheduling asks the dispatcher for a delivery; nothing is sent from these tests."""
    from publishing import dispatch

    request = mock.Mock()
    monkeypatch.setattr(dispatch, "request_dispatch", request)
    return request


@pytest.fixture
def workspace():
    return WorkspaceFactory(timezone="Europe/Berlin")


@pytest.fixture
def editor(workspace):
    return MembershipFactory(workspace=workspace, role="editor").user


@pytest.fixture
def x(workspace):
    return SocialAccountFactory(workspace=workspace, platform="x", handle="acme")


@pytest.fixture
def bluesky(workspace):
    return SocialAccountFactory(workspace=workspace, platform="bluesky", handle="acme.bsky.social")


def make_asset(workspace, name="photo.jpg", *, content_type="image/jpeg", size=1000, alt_text="A photo") -> MediaAsset:
    return MediaAsset.objects.create(
        workspace=workspace,
        kind="video" if content_type.startswith("video/") else "image",
        storage_name=name,
        file=f"media/{workspace.pk}/{name}",
        original_name=name,
        content_type=content_type,
        size_bytes=size,
        width=800,
        height=600,
        sha256="0" * 64,
        alt_text=alt_text,
    )


def _create(workspace, editor, accounts, **kwargs):
    return create_post(
        workspace=workspace,
        author=editor,
        text=kwargs.pop("text", "Spring is here"),
        account_ids=[account.pk for account in accounts],
        **kwargs,
    )


def _media_rows(post):
    """(account id of the target or None for the post's, file name, position): accounts' own first."""
    rows = PostMedia.objects.filter(post=post).values_list(
        "target__social_account_id", "asset__original_name", "position"
    )
    return sorted(rows, key=lambda row: (row[0] is None, row[0] or 0, row[2]))


# --------------------------------------------------------------------------- tags


def test_tags_are_trimmed_and_matched_to_the_workspaces_tags_whatever_their_case(workspace, editor, x):
    Tag.objects.create(workspace=workspace, name="Launch")
    Tag.objects.create(workspace=WorkspaceFactory(), name="spring sale")

    post = _create(workspace, editor, [x], tags=["  launch ", "Spring   sale", "SPRING SALE", "", " "])

    assert sorted(post.tags.values_list("name", flat=True)) == ["Launch", "Spring sale"]
    assert sorted(Tag.objects.filter(workspace=workspace).values_list("name", flat=True)) == ["Launch", "Spring sale"]


def test_more_than_ten_tags_are_refused_and_nothing_is_created(workspace, editor, x):
    with pytest.raises(ValidationError) as excinfo:
        _create(workspace, editor, [x], tags=[f"tag {n}" for n in range(11)])

    assert excinfo.value.messages == ["A post takes at most 10 tags; this one has 11."]
    assert not Post.objects.exists()
    assert not Tag.objects.exists()


def test_a_tag_longer_than_fifty_characters_is_refused(workspace, editor, x):
    with pytest.raises(ValidationError) as excinfo:
        _create(workspace, editor, [x], tags=["a" * 51])

    assert excinfo.value.messages == [f"“{'a' * 20}…” is too long for a tag: use at most 50 characters."]
    assert not Post.objects.exists()


def test_ten_tags_of_fifty_characters_are_fine(workspace, editor, x):
    names = [f"{n}{'x' * 49}" for n in range(10)]

    post = _create(workspace, editor, [x], tags=names)

    assert sorted(post.tags.values_list("name", flat=True)) == sorted(names)


# --------------------------------------------------------------------------- media


def test_post_media_are_saved_in_the_order_given(workspace, editor, x):
    first, second = make_asset(workspace, "first.jpg"), make_asset(workspace, "second.jpg")

    post = _create(workspace, editor, [x], media_ids=[second.pk, str(first.pk)])

    assert _media_rows(post) == [(None, "second.jpg", 0), (None, "first.jpg", 1)]


def test_another_workspaces_file_is_refused_with_a_clear_message(workspace, editor, x):
    theirs = make_asset(WorkspaceFactory(), "theirs.jpg")

    with pytest.raises(ValidationError) as excinfo:
        _create(workspace, editor, [x], media_ids=[theirs.pk])

    assert excinfo.value.messages == [
        "One of the chosen media files is not in this workspace's library. Choose files from the library."
    ]
    assert not Post.objects.exists()
    assert not PostMedia.objects.exists()


def test_another_workspaces_file_is_refused_for_one_account_too(workspace, editor, x):
    theirs = make_asset(WorkspaceFactory(), "theirs.jpg")

    with pytest.raises(ValidationError):
        _create(workspace, editor, [x], target_media={x.pk: [theirs.pk]})

    assert not Post.objects.exists()


@pytest.mark.parametrize("bad", ["abc", None, -1, True])
def test_media_ids_that_are_not_ids_are_refused(workspace, editor, x, bad):
    with pytest.raises(ValidationError) as excinfo:
        _create(workspace, editor, [x], media_ids=[bad])

    assert excinfo.value.messages == ["Choose the media files from the list."]


def test_a_target_gets_its_own_media_instead_of_the_posts(workspace, editor, x, bluesky):
    shared, own = make_asset(workspace, "shared.jpg", size=111), make_asset(workspace, "own.png", size=222)

    post = _create(workspace, editor, [x, bluesky], media_ids=[shared.pk], target_media={x.pk: [own.pk]})

    assert _media_rows(post) == [(x.pk, "own.png", 0), (None, "shared.jpg", 0)]
    on_x = variant_for_target(post.targets.get(social_account=x))
    on_bluesky = variant_for_target(post.targets.get(social_account=bluesky))
    assert [media.size for media in on_x.media] == [222]
    assert [media.size for media in on_bluesky.media] == [111]


def test_each_platform_checks_the_media_it_would_get(workspace, editor, x, bluesky):
    images = [make_asset(workspace, f"{n}.jpg") for n in range(5)]

    with pytest.raises(ValidationError) as excinfo:
        _create(workspace, editor, [x, bluesky], media_ids=[image.pk for image in images])

    assert excinfo.value.messages == [
        "X · acme: X takes at most 4 images per post; this has 5.",
        "Bluesky · acme.bsky.social: Bluesky allows 4 images per post; this has 5.",
    ]
    assert excinfo.value.code == "content"
    assert not Post.objects.exists()


def test_an_account_with_its_own_four_images_passes_where_the_post_has_five(workspace, editor, x):
    images = [make_asset(workspace, f"{n}.jpg") for n in range(5)]

    post = _create(
        workspace, editor, [x], media_ids=[image.pk for image in images], target_media={x.pk: [images[0].pk]}
    )

    assert len(variant_for_target(post.targets.get()).media) == 1


# --------------------------------------------------------------------------- links, template, domain


def test_each_account_may_have_its_own_link(workspace, editor, x, bluesky):
    post = _create(
        workspace,
        editor,
        [x, bluesky],
        link="https://acme.example/spring",
        links={str(bluesky.pk): "https://acme.example/bsky", x.pk: " "},
    )

    assert dict(post.targets.values_list("social_account_id", "link")) == {
        x.pk: "https://acme.example/spring",
        bluesky.pk: "https://acme.example/bsky",
    }


def test_a_bad_link_for_one_account_is_refused(workspace, editor, x):
    with pytest.raises(ValidationError) as excinfo:
        _create(workspace, editor, [x], links={x.pk: "javascript:alert(1)"})

    assert excinfo.value.messages == ["The link must be a full web address starting with https://."]
    assert not Post.objects.exists()


def test_a_link_for_an_account_the_post_does_not_go_to_is_refused(workspace, editor, x, bluesky):
    with pytest.raises(ValidationError) as excinfo:
        _create(workspace, editor, [x], links={bluesky.pk: "https://acme.example"})

    assert excinfo.value.messages == ["A variant was given for an account this post does not go to."]


def test_the_template_and_domain_are_the_workspaces(workspace, editor, x):
    template = Template.objects.create(workspace=workspace, name="Launch", body="New: {product}")
    domain = ContentDomain.objects.create(workspace=workspace, key="tech", name="Technology")

    post = _create(workspace, editor, [x], template_id=template.pk, domain_key="tech", source=Post.Source.TEMPLATE)

    assert (post.template, post.domain, post.source) == (template, domain, "template")


def test_another_workspaces_template_or_domain_is_refused(workspace, editor, x):
    other = WorkspaceFactory()
    theirs = Template.objects.create(workspace=other, name="Theirs", body="x")
    ContentDomain.objects.create(workspace=other, key="tech", name="Technology")

    with pytest.raises(ValidationError) as template_error:
        _create(workspace, editor, [x], template_id=theirs.pk)
    with pytest.raises(ValidationError) as domain_error:
        _create(workspace, editor, [x], domain_key="tech")

    assert template_error.value.messages == ["That template is not in this workspace."]
    assert domain_error.value.messages == [
        "“tech” is not one of this workspace's content domains. Choose one from the list."
    ]
    assert not Post.objects.exists()


# --------------------------------------------------------------------------- variant_for_target


def test_variant_for_target_uses_the_posts_text_unless_the_target_has_its_own(workspace, editor, x, bluesky):
    post = _create(workspace, editor, [x, bluesky], variants={bluesky.pk: "Hello Bluesky"}, link="https://a.example")

    on_x = variant_for_target(post.targets.get(social_account=x))
    on_bluesky = variant_for_target(post.targets.get(social_account=bluesky))

    assert (on_x.text, on_x.link, on_x.media) == ("Spring is here", "https://a.example", ())
    assert (on_bluesky.text, on_bluesky.link) == ("Hello Bluesky", "https://a.example")


def test_variant_for_target_takes_at_most_two_queries(workspace, editor, x, django_assert_num_queries):
    assets = [make_asset(workspace, f"{n}.jpg", size=n + 1) for n in range(3)]
    post = _create(workspace, editor, [x], media_ids=[asset.pk for asset in assets])
    target = PostTarget.objects.get(post=post)

    with django_assert_num_queries(2):
        variant = variant_for_target(target)

    assert [media.size for media in variant.media] == [1, 2, 3]


def test_variant_for_target_takes_no_query_with_everything_prefetched(
    workspace, editor, x, bluesky, django_assert_num_queries
):
    shared, own = make_asset(workspace, "shared.jpg", size=5), make_asset(workspace, "own.jpg", size=6)
    _create(workspace, editor, [x, bluesky], media_ids=[shared.pk], target_media={bluesky.pk: [own.pk]})
    targets = list(
        PostTarget.objects.select_related("post")
        .prefetch_related(Prefetch("post__media", queryset=PostMedia.objects.select_related("asset")))
        .order_by("social_account_id")
    )

    with django_assert_num_queries(0):
        variants = [variant_for_target(target) for target in targets]

    assert [[media.size for media in variant.media] for variant in variants] == [[5], [6]]


def test_variant_for_target_accepts_the_media_rows(workspace, editor, x, django_assert_num_queries):
    asset = make_asset(workspace, "a.jpg", size=9)
    post = _create(workspace, editor, [x], media_ids=[asset.pk])
    target = PostTarget.objects.select_related("post").get(post=post)
    rows = list(PostMedia.objects.select_related("asset").filter(post=post))

    with django_assert_num_queries(0):
        variant = variant_for_target(target, media=rows)

    assert [media.size for media in variant.media] == [9]


# --------------------------------------------------------------------------- editing


def _scheduled(workspace, editor, accounts, **kwargs):
    """A post that was approved and scheduled for FUTURE."""
    post = _create(workspace, editor, accounts, **kwargs)
    submit_for_review(post=post, actor=editor)
    approve_post(post=post, actor=MembershipFactory(workspace=workspace, role="approver").user)
    schedule_post(post=post, actor=editor, when_local=None, tz="Europe/Berlin", post_now=True, now=FUTURE)
    post.refresh_from_db()
    assert post.status == PS.SCHEDULED
    return post


@pytest.mark.parametrize(
    "change",
    [
        lambda photo, x: {"media_ids": [photo.pk]},
        lambda photo, x: {"link": "https://acme.example/new"},
        lambda photo, x: {"links": {x.pk: "https://acme.example/x"}},
        lambda photo, x: {"target_media": {x.pk: [photo.pk]}},
    ],
    ids=["media", "link", "per-account link", "per-account media"],
)
def test_editing_what_is_sent_sends_a_scheduled_post_back_to_review(workspace, editor, x, change):
    photo = make_asset(workspace, "photo.jpg")
    post = _scheduled(workspace, editor, [x])
    kwargs = change(photo, x)

    edit_post(post=post, actor=editor, **kwargs)

    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert list(post.targets.values_list("status", "scheduled_at")) == [(TS.PENDING, FUTURE)]
    assert list(PostEvent.objects.filter(post=post, target=None).values_list("reason", flat=True))[-2:] == [
        "Edited.",
        BACK_TO_REVIEW_REASON,
    ]


def test_editing_only_the_tags_and_domain_keeps_the_schedule(workspace, editor, x):
    ContentDomain.objects.create(workspace=workspace, key="tech", name="Technology")
    post = _scheduled(workspace, editor, [x], tags=["old"])

    edit_post(post=post, actor=editor, tags=["new", "New"], domain_key="tech")

    post.refresh_from_db()
    assert post.status == PS.SCHEDULED
    assert list(post.tags.values_list("name", flat=True)) == ["new"]
    assert post.domain.key == "tech"
    assert list(post.targets.values_list("status", flat=True)) == [TS.SCHEDULED]
    assert PostEvent.objects.filter(post=post, reason="Edited.").count() == 1


def test_an_edit_with_the_same_values_changes_nothing(workspace, editor, x):
    photo = make_asset(workspace, "photo.jpg")
    post = _scheduled(workspace, editor, [x], tags=["Launch"], media_ids=[photo.pk], link="https://a.example")
    events = PostEvent.objects.count()

    edit_post(
        post=post,
        actor=editor,
        text=post.text,
        tags=["launch"],
        media_ids=[photo.pk],
        link="https://a.example",
        links={x.pk: ""},
        target_media={x.pk: []},
    )

    post.refresh_from_db()
    assert post.status == PS.SCHEDULED
    assert PostEvent.objects.count() == events


def test_an_empty_list_gives_an_account_the_posts_media_again(workspace, editor, x):
    shared, own = make_asset(workspace, "shared.jpg"), make_asset(workspace, "own.jpg")
    post = _create(workspace, editor, [x], media_ids=[shared.pk], target_media={x.pk: [own.pk]})

    edit_post(post=post, actor=editor, target_media={x.pk: []})

    assert _media_rows(post) == [(None, "shared.jpg", 0)]


def test_a_per_account_link_is_kept_when_only_the_posts_link_changes(workspace, editor, x, bluesky):
    post = _create(workspace, editor, [x, bluesky], link="https://a.example", links={bluesky.pk: "https://b.example"})

    edit_post(post=post, actor=editor, link="https://c.example", links={bluesky.pk: "https://b.example"})

    assert dict(post.targets.values_list("social_account_id", "link")) == {
        x.pk: "https://c.example",
        bluesky.pk: "https://b.example",
    }


def test_an_edit_with_another_workspaces_file_changes_nothing(workspace, editor, x):
    post = _create(workspace, editor, [x])
    theirs = make_asset(WorkspaceFactory(), "theirs.jpg")

    with pytest.raises(ValidationError):
        edit_post(post=post, actor=editor, text="New text", media_ids=[theirs.pk])

    post.refresh_from_db()
    assert post.text == "Spring is here"
    assert not PostMedia.objects.exists()


def test_an_edit_the_platform_would_refuse_because_of_media_changes_nothing(workspace, editor, x):
    post = _create(workspace, editor, [x])
    images = [make_asset(workspace, f"{n}.jpg") for n in range(5)]

    with pytest.raises(ValidationError) as excinfo:
        edit_post(post=post, actor=editor, media_ids=[image.pk for image in images])

    assert excinfo.value.messages == ["X · acme: X takes at most 4 images per post; this has 5."]
    assert not PostMedia.objects.exists()


# --------------------------------------------------------------------------- duplicate


def test_duplicate_copies_everything_but_the_schedule_and_the_status(workspace, editor, x, bluesky):
    AutomationSettings.objects.create(workspace=workspace, review_before_posting=False)
    domain = ContentDomain.objects.create(workspace=workspace, key="tech", name="Technology")
    template = Template.objects.create(workspace=workspace, name="Launch", body="New: {product}")
    shared, own = make_asset(workspace, "shared.jpg"), make_asset(workspace, "own.jpg")
    original = _create(
        workspace,
        editor,
        [x, bluesky],
        variants={bluesky.pk: "Hello Bluesky"},
        link="https://a.example",
        links={bluesky.pk: "https://b.example"},
        media_ids=[shared.pk],
        target_media={bluesky.pk: [own.pk]},
        tags=["Launch", "Spring"],
        domain_key="tech",
        template_id=template.pk,
        source=Post.Source.TEMPLATE,
    )
    submit_for_review(post=original, actor=editor)
    approve_post(post=original, actor=MembershipFactory(workspace=workspace, role="approver").user)
    schedule_post(post=original, actor=editor, when_local=None, tz="Europe/Berlin", post_now=True, now=FUTURE)
    copier = MembershipFactory(workspace=workspace, role="editor").user

    copy = duplicate_post(post=original, actor=copier)

    assert copy.pk != original.pk
    assert (copy.status, copy.text, copy.source, copy.author) == (PS.DRAFT, "Spring is here", "template", copier)
    assert (copy.domain, copy.template) == (domain, template)
    assert sorted(copy.tags.values_list("name", flat=True)) == ["Launch", "Spring"]
    assert list(
        copy.targets.order_by("social_account_id").values_list(
            "social_account_id", "text", "link", "status", "scheduled_at", "schedule_timezone"
        )
    ) == [
        (x.pk, "", "https://a.example", TS.PENDING, None, ""),
        (bluesky.pk, "Hello Bluesky", "https://b.example", TS.PENDING, None, ""),
    ]
    assert _media_rows(copy) == [(bluesky.pk, "own.jpg", 0), (None, "shared.jpg", 0)]
    assert list(PostEvent.objects.filter(post=copy).values_list("reason", flat=True)) == [
        f"Duplicated from #{original.pk}"
    ]
    original.refresh_from_db()
    assert original.status == PS.SCHEDULED
    assert _media_rows(original) == [(bluesky.pk, "own.jpg", 0), (None, "shared.jpg", 0)]


def test_duplicate_leaves_out_disconnected_accounts(workspace, editor, x, bluesky):
    original = _create(workspace, editor, [x, bluesky])
    bluesky.status = "revoked"
    bluesky.save()

    copy = duplicate_post(post=original, actor=editor)

    assert list(copy.targets.values_list("social_account_id", flat=True)) == [x.pk]


def test_duplicate_refuses_when_no_account_is_left(workspace, editor, x):
    original = _create(workspace, editor, [x])
    x.status = "revoked"
    x.save()

    with pytest.raises(ValidationError) as excinfo:
        duplicate_post(post=original, actor=editor)

    assert excinfo.value.messages[0].startswith("None of this post's accounts is connected any more")
    assert Post.objects.count() == 1


def test_a_viewer_cannot_duplicate(workspace, editor, x):
    original = _create(workspace, editor, [x])

    with pytest.raises(PermissionDenied):
        duplicate_post(post=original, actor=MembershipFactory(workspace=workspace, role="viewer").user)

    assert Post.objects.count() == 1
