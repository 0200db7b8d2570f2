"""The composer pages: create (draft, submit, schedule, queue, post now), edit, duplicate, the list's filters."""

from __future__ import annotations

from datetime import UTC, datetime
from unittest import mock

import pytest
from django.contrib.messages import get_messages
from django.urls import reverse

from content.models import ContentDomain, Post, PostMedia, Tag, Template
from content.tests.test_composer_services import make_asset
from publishing.models import AutomationSettings, PostEvent, PostTarget
from publishing.tests.factories import PostFactory, PostTargetFactory, SocialAccountFactory
from tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db

PS, TS = Post.Status, PostTarget.Status


@pytest.fixture(autouse=True)
def dispatches(monkeypatch):
    from publishing import dispatch

    request = mock.Mock()
    monkeypatch.setattr(dispatch, "request_dispatch", request)
    return request


@pytest.fixture
def workspace():
    return WorkspaceFactory(name="Acme", slug="acme", timezone="Europe/Berlin")


@pytest.fixture
def editor(workspace):
    return MembershipFactory(workspace=workspace, role="editor").user


@pytest.fixture
def client(client, editor):
    client.force_login(editor)
    return client


@pytest.fixture
def x(workspace):
    return SocialAccountFactory(workspace=workspace, platform="x", handle="acme_news")


@pytest.fixture
def bluesky(workspace):
    return SocialAccountFactory(workspace=workspace, platform="bluesky", handle="acme.bsky.social")


@pytest.fixture
def no_review(workspace):
    return AutomationSettings.objects.create(workspace=workspace, review_before_posting=False)


def _url(name, workspace, **kwargs):
    return reverse(f"publishing:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def _messages(response):
    return [str(message) for message in get_messages(response.wsgi_request)]


def _form(accounts, **values):
    return {
        "text": "Spring is here",
        "accounts": [str(account.pk) for account in accounts],
        "link": "",
        "tags": "",
        "domain": "",
        "scheduled_at": "2030-06-01T09:30",
        "timezone": "Europe/Berlin",
        "when": "draft",
        **values,
    }


# --------------------------------------------------------------------------- the page


def test_the_composer_offers_accounts_media_templates_domains_and_the_scripts(client, workspace, x):
    asset = make_asset(workspace, "spring.jpg")
    Template.objects.create(workspace=workspace, name="Launch", body="Meet {product}")
    ContentDomain.objects.create(
        workspace=workspace,
        key="tech",
        name="Technology & Innovation",
        audience="Developers, tech enthusiasts",
        tone="Informative",
        sample_posts=["AI is changing how we build for the web."],
    )

    response = client.get(_url("post_create", workspace))

    html = response.content.decode()
    assert response.status_code == 200
    assert response.context["form"].fields["accounts"].choices == [(str(x.pk), "X · acme_news")]
    assert f'name="media" value="{asset.pk}"' in html
    assert f'name="variant_{x.pk}"' in html and f'name="link_{x.pk}"' in html and f'name="media_{x.pk}"' in html
    assert "Launch (Any platform)" in html
    for text in ("Developers, tech enthusiasts", "Informative", "AI is changing how we build for the web."):
        assert text in html
    assert 'data-validate-url="/w/acme/posts/validate/"' in html
    assert "js/composer.js" in html and "js/emoji_picker.js" in html
    for label in ("Save draft", "Submit for approval", "Schedule", "Add to queue", "Post now"):
        assert f">{label}</button>" in html


def test_with_no_connected_account_the_page_says_how_to_connect_one(client, workspace):
    response = client.get(_url("post_create", workspace))

    html = response.content.decode()
    assert 'data-testid="no-accounts"' in html
    assert _url("connections", workspace) in html


def test_starting_from_a_template_fills_the_text_and_leaves_missing_variables(client, workspace, x):
    domain = ContentDomain.objects.create(workspace=workspace, key="tech", name="Technology")
    template = Template.objects.create(
        workspace=workspace, name="Launch", body="Meet {product}! More at {link}", domain=domain
    )

    response = client.get(_url("post_create", workspace), {"template": template.pk, "v_product": "Sprout"})

    form = response.context["form"]
    assert form["text"].value() == "Meet Sprout! More at {link}"
    assert form["template_id"].value() == str(template.pk)
    assert form["domain"].value() == "tech"
    assert response.context["template_values"] == {"product": "Sprout", "link": ""}


def test_another_workspaces_template_is_not_offered(client, workspace, x):
    theirs = Template.objects.create(workspace=WorkspaceFactory(), name="Theirs", body="Secret {x}")

    response = client.get(_url("post_create", workspace), {"template": theirs.pk})

    assert response.status_code == 200
    assert "Secret" not in response.content.decode()
    assert _messages(response) == ["That template is not in this workspace."]


# --------------------------------------------------------------------------- creating


def test_save_draft_with_tags_media_and_a_variant(client, workspace, editor, x, bluesky):
    photo = make_asset(workspace, "photo.jpg")
    ContentDomain.objects.create(workspace=workspace, key="tech", name="Technology")

    response = client.post(
        _url("post_create", workspace),
        _form(
            [x, bluesky],
            tags="launch, Spring sale , LAUNCH",
            domain="tech",
            link="https://acme.example",
            media=[photo.pk],
            **{f"variant_{bluesky.pk}": "Hello Bluesky", f"link_{bluesky.pk}": "https://acme.example/b"},
        ),
    )

    post = Post.objects.get()
    assert response.status_code == 302
    assert response["Location"] == _url("post_detail", workspace, pk=post.pk)
    assert (post.status, post.text, post.author, post.source, post.domain.key) == (
        PS.DRAFT,
        "Spring is here",
        editor,
        "manual",
        "tech",
    )
    assert sorted(post.tags.values_list("name", flat=True)) == ["Spring sale", "launch"]
    assert list(post.targets.order_by("social_account_id").values_list("text", "link", "status")) == [
        ("", "https://acme.example", TS.PENDING),
        ("Hello Bluesky", "https://acme.example/b", TS.PENDING),
    ]
    assert list(PostMedia.objects.values_list("asset", "target")) == [(photo.pk, None)]
    assert _messages(response) == ["Saved as a draft."]


def test_submit_for_approval(client, workspace, x):
    response = client.post(_url("post_create", workspace), _form([x], when="submit"))

    assert Post.objects.get().status == PS.PENDING_REVIEW
    assert _messages(response) == ["Sent for review."]


def test_schedule_at_a_local_time(client, workspace, x, no_review):
    response = client.post(_url("post_create", workspace), _form([x], when="at"))

    post = Post.objects.get()
    assert post.status == PS.SCHEDULED
    assert list(post.targets.values_list("status", "scheduled_at", "schedule_timezone")) == [
        (TS.SCHEDULED, datetime(2030, 6, 1, 7, 30, tzinfo=UTC), "Europe/Berlin")
    ]
    assert _messages(response) == ["Scheduled."]


def test_post_now(client, workspace, x, no_review):
    before = datetime.now(tz=UTC)

    response = client.post(_url("post_create", workspace), _form([x], when="now", scheduled_at=""))

    target = Post.objects.get().targets.get()
    assert target.status == TS.SCHEDULED
    assert before <= target.scheduled_at <= datetime.now(tz=UTC)
    assert _messages(response) == ["Posting now."]


def test_add_to_queue(client, workspace, x):
    AutomationSettings.objects.create(workspace=workspace, review_before_posting=False, posting_times=["10:00"])

    response = client.post(_url("post_create", workspace), _form([x], when="queue", scheduled_at=""))

    assert Post.objects.get().status == PS.SCHEDULED
    assert _messages(response) == ["Added to the queue."]


def test_a_post_from_a_template_is_always_reviewed(client, workspace, x, no_review):
    template = Template.objects.create(workspace=workspace, name="Launch", body="Spring is here")

    response = client.post(_url("post_create", workspace), _form([x], when="now", template_id=str(template.pk)))

    post = Post.objects.get()
    assert (post.status, post.source, post.template) == (PS.PENDING_REVIEW, "template", template)
    assert _messages(response) == [
        "Sent for review: posts made from a template are always approved before they go out. "
        "Schedule it once it is approved."
    ]


def test_warnings_are_shown_once_before_scheduling(client, workspace, bluesky, no_review):
    photo = make_asset(workspace, "photo.jpg", alt_text="")
    data = _form([bluesky], when="at", media=[photo.pk])

    first = client.post(_url("post_create", workspace), data)

    assert first.status_code == 200
    assert not Post.objects.exists()
    assert first.context["warnings"] == [
        "Bluesky · acme.bsky.social: Image 1 has no alt text; people using screen readers will miss it."
    ]
    assert 'name="acknowledge_warnings" value="True"' in first.content.decode()

    second = client.post(_url("post_create", workspace), {**data, "acknowledge_warnings": "True"})

    assert second.status_code == 302
    assert Post.objects.get().status == PS.SCHEDULED


def test_a_draft_is_saved_without_stopping_for_warnings(client, workspace, bluesky):
    photo = make_asset(workspace, "photo.jpg", alt_text="")

    response = client.post(_url("post_create", workspace), _form([bluesky], media=[photo.pk]))

    assert response.status_code == 302
    assert Post.objects.get().status == PS.DRAFT
    assert _messages(response) == [
        "Saved as a draft.",
        "Bluesky · acme.bsky.social: Image 1 has no alt text; people using screen readers will miss it.",
    ]


def test_text_the_platform_refuses_shows_its_message_and_count_and_creates_nothing(client, workspace, x):
    response = client.post(_url("post_create", workspace), _form([x], text="a" * 290))

    assert response.status_code == 400
    assert response.context["form"].errors["text"] == [
        "X · acme_news: X counts this post as 290 characters; the limit is 280. "
        "Every link counts 23, and emoji and CJK characters count 2."
    ]
    assert [(p["length"], p["max_length"]) for p in response.context["previews"]] == [(290, 280)]
    assert "290 / 280" in response.content.decode()
    assert not Post.objects.exists()


@pytest.mark.parametrize(
    ("values", "field", "message"),
    [
        ({"tags": ",".join(f"t{n}" for n in range(11))}, "tags", "A post takes at most 10 tags; this one has 11."),
        ({"domain": "nope"}, "domain", "Select a valid choice. nope is not one of the available choices."),
        ({"template_id": "99999"}, None, "That template is not in this workspace."),
        ({"link": "not a link at all"}, "link", "Enter a valid URL."),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(client, workspace, x, values, field, message):
    response = client.post(_url("post_create", workspace), _form([x], **values))

    assert response.status_code == 400
    errors = response.context["form"].non_field_errors() if field is None else response.context["form"].errors[field]
    assert list(errors) == [message]
    assert not Post.objects.exists()


def test_another_workspaces_file_cannot_be_attached(client, workspace, x):
    theirs = make_asset(WorkspaceFactory(), "theirs.jpg")

    response = client.post(_url("post_create", workspace), _form([x], media=[theirs.pk]))

    assert response.status_code == 400
    assert response.context["form"].errors["media"] == [
        f"Select a valid choice. {theirs.pk} is not one of the available choices."
    ]
    assert not Post.objects.exists()


@pytest.mark.parametrize("role", ["viewer", "approver"])
def test_members_who_cannot_write_cannot_compose(client, workspace, x, role):
    client.force_login(MembershipFactory(workspace=workspace, role=role).user)
    post = PostFactory(workspace=workspace)

    assert client.get(_url("post_create", workspace)).status_code == 403
    assert client.post(_url("post_create", workspace), _form([x])).status_code == 403
    assert client.get(_url("post_edit", workspace, pk=post.pk)).status_code == 403
    assert client.post(_url("post_edit", workspace, pk=post.pk), _form([x])).status_code == 403
    assert client.post(_url("post_duplicate", workspace, pk=post.pk)).status_code == 403
    assert Post.objects.count() == 1


# --------------------------------------------------------------------------- editing


def _draft(workspace, x, **kwargs):
    post = PostFactory(workspace=workspace, text="Original text", **kwargs)
    PostTargetFactory(post=post, social_account=x, link="https://acme.example")
    return post


def test_the_edit_page_is_filled_with_the_post(client, workspace, x, bluesky):
    photo = make_asset(workspace, "photo.jpg")
    post = _draft(workspace, x)
    own = PostTargetFactory(post=post, social_account=bluesky, text="For Bluesky", link="https://b.example")
    PostMedia.objects.create(workspace=workspace, post=post, target=own, asset=photo)
    post.tags.add(Tag.objects.create(workspace=workspace, name="Launch"))

    response = client.get(_url("post_edit", workspace, pk=post.pk))

    form = response.context["form"]
    assert response.status_code == 200
    assert form["text"].value() == "Original text"
    assert form["tags"].value() == "Launch"
    assert form["link"].value() in ("https://acme.example", "https://b.example")
    assert form[f"variant_{bluesky.pk}"].value() == "For Bluesky"
    assert form[f"media_{bluesky.pk}"].value() == [photo.pk]
    assert form["accounts"].value() == [str(x.pk), str(bluesky.pk)]


def test_editing_saves_the_changes(client, workspace, x):
    photo = make_asset(workspace, "photo.jpg")
    post = _draft(workspace, x)

    response = client.post(
        _url("post_edit", workspace, pk=post.pk),
        _form([x], text="Better text", tags="new", media=[photo.pk], link="https://acme.example/new"),
    )

    post.refresh_from_db()
    assert response.status_code == 302
    assert (post.text, post.status) == ("Better text", PS.DRAFT)
    assert list(post.tags.values_list("name", flat=True)) == ["new"]
    assert list(post.media.values_list("asset", flat=True)) == [photo.pk]
    assert post.targets.get().link == "https://acme.example/new"
    assert _messages(response) == ["Saved as a draft."]


def test_editing_a_scheduled_post_sends_it_back_to_review(client, workspace, x):
    when = datetime(2030, 6, 1, 7, 30, tzinfo=UTC)
    post = PostFactory(workspace=workspace, text="Original text", status=PS.SCHEDULED)
    PostTargetFactory(post=post, social_account=x, status=TS.SCHEDULED, scheduled_at=when)

    response = client.post(_url("post_edit", workspace, pk=post.pk), _form([x], text="Changed"))

    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW
    assert list(post.targets.values_list("status", "scheduled_at")) == [(TS.PENDING, when)]
    assert _messages(response) == ["Saved."]


def test_editing_then_submitting(client, workspace, x):
    post = _draft(workspace, x)

    client.post(_url("post_edit", workspace, pk=post.pk), _form([x], when="submit"))

    post.refresh_from_db()
    assert post.status == PS.PENDING_REVIEW


def test_a_published_post_cannot_be_edited(client, workspace, x):
    post = PostFactory(workspace=workspace, text="Out", status=PS.PUBLISHED)
    PostTargetFactory(post=post, social_account=x, status=TS.PUBLISHED)

    response = client.post(_url("post_edit", workspace, pk=post.pk), _form([x], text="Changed"))

    post.refresh_from_db()
    assert response["Location"] == _url("post_detail", workspace, pk=post.pk)
    assert post.text == "Out"
    assert _messages(response) == ["A published post cannot be edited."]


def test_an_edit_the_platform_refuses_changes_nothing(client, workspace, x):
    post = _draft(workspace, x)

    response = client.post(_url("post_edit", workspace, pk=post.pk), _form([x], text="a" * 300, tags="x"))

    post.refresh_from_db()
    assert response.status_code == 400
    assert post.text == "Original text"
    assert not post.tags.exists()


# --------------------------------------------------------------------------- duplicate, detail, list


def test_duplicate_makes_a_draft_and_opens_it(client, workspace, x):
    post = PostFactory(workspace=workspace, text="Original", status=PS.PUBLISHED)
    PostTargetFactory(post=post, social_account=x, status=TS.PUBLISHED, scheduled_at=datetime(2030, 1, 1, tzinfo=UTC))

    response = client.post(_url("post_duplicate", workspace, pk=post.pk))

    copy = Post.objects.exclude(pk=post.pk).get()
    assert response["Location"] == _url("post_edit", workspace, pk=copy.pk)
    assert (copy.text, copy.status) == ("Original", PS.DRAFT)
    assert list(copy.targets.values_list("status", "scheduled_at")) == [(TS.PENDING, None)]
    assert PostEvent.objects.get(post=copy).reason == f"Duplicated from #{post.pk}"


def test_get_on_duplicate_changes_nothing(client, workspace, x):
    post = _draft(workspace, x)

    response = client.get(_url("post_duplicate", workspace, pk=post.pk))

    assert response.status_code == 302
    assert Post.objects.count() == 1


def test_the_post_page_offers_edit_and_duplicate_to_writers_only(client, workspace, x):
    post = _draft(workspace, x)
    post.tags.add(Tag.objects.create(workspace=workspace, name="Launch"))

    editor_html = client.get(_url("post_detail", workspace, pk=post.pk)).content.decode()
    client.force_login(MembershipFactory(workspace=workspace, role="viewer").user)
    viewer_html = client.get(_url("post_detail", workspace, pk=post.pk)).content.decode()

    assert _url("post_edit", workspace, pk=post.pk) in editor_html
    assert _url("post_duplicate", workspace, pk=post.pk) in editor_html
    assert _url("post_edit", workspace, pk=post.pk) not in viewer_html
    assert _url("post_duplicate", workspace, pk=post.pk) not in viewer_html
    assert "Launch" in viewer_html


def test_the_list_filters_by_tag_and_searches_text_and_variants(client, workspace, x):
    launch = Tag.objects.create(workspace=workspace, name="Launch")
    tagged = PostFactory(workspace=workspace, text="Tagged post")
    tagged.tags.add(launch)
    in_variant = PostFactory(workspace=workspace, text="Plain")
    PostTargetFactory(post=in_variant, social_account=x, text="Only the variant mentions sprouts")
    PostFactory(workspace=workspace, text="Nothing to see")

    by_tag = client.get(_url("posts", workspace), {"tag": "launch"})
    by_text = client.get(_url("posts", workspace), {"q": "SPROUTS"})
    both = client.get(_url("posts", workspace), {"q": "tagged", "tag": "Launch", "status": "draft"})

    assert [row.post for row in by_tag.context["rows"]] == [tagged]
    assert [row.post for row in by_text.context["rows"]] == [in_variant]
    assert [row.post for row in both.context["rows"]] == [tagged]
    assert 'data-testid="tags"' in by_tag.content.decode()
    assert "?tag=Launch&amp;q=tagged&amp;status=published" in both.content.decode()
