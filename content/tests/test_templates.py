"""Templates: render_template's rules, the services, and the pages (list, new, edit with preview, delete, render)."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from content.models import ContentDomain, Template
from content.services_templates import (
    create_template,
    delete_template,
    render_template,
    update_template,
    variables_of,
)
from publishing.tests.factories import SocialAccountFactory
from tests.factories import MembershipFactory, WorkspaceFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def workspace():
    return WorkspaceFactory(slug="acme")


@pytest.fixture
def editor(workspace):
    return MembershipFactory(workspace=workspace, role="editor").user


@pytest.fixture
def viewer(workspace):
    return MembershipFactory(workspace=workspace, role="viewer").user


def _template(workspace, name="Launch", body="Meet {product}! {link}", **kwargs):
    return Template.objects.create(workspace=workspace, name=name, body=body, **kwargs)


# --------------------------------------------------------------------------- render_template


@pytest.mark.parametrize(
    ("body", "values", "text", "missing"),
    [
        (
            "Meet {product}: {link}",
            {"product": "Sprout", "link": "https://a.example"},
            "Meet Sprout: https://a.example",
            [],
        ),
        ("Meet {product}: {link}", {"product": "Sprout"}, "Meet Sprout: {link}", ["link"]),
        ("{a} {b} {a}", {}, "{a} {b} {a}", ["a", "b"]),
        ("Blank {x}", {"x": "   "}, "Blank {x}", ["x"]),
        ("Use {{braces}} and {{ }}", {"braces": "no"}, "Use {braces} and { }", []),
        ("{{{name}}}", {"name": "Ada"}, "{Ada}", []),
        ("Not variables: {two words} {} { x } {", {}, "Not variables: {two words} {} { x } {", []),
        ("Price {price_2}", {"price_2": 9.5}, "Price 9.5", []),
        ("Émoji {café}", {"café": "☕"}, "Émoji ☕", []),
        ("No variables at all.", {"unused": "x"}, "No variables at all.", []),
    ],
)
def test_render_template(body, values, text, missing):
    assert render_template(body, values) == (text, missing)


def test_render_template_takes_a_template_row(workspace):
    assert render_template(_template(workspace), {"product": "Sprout"}) == ("Meet Sprout! {link}", ["link"])


def test_variables_of_lists_each_once_in_order():
    assert variables_of("{b} {a} {{c}} {b} {d_1}") == ["b", "a", "d_1"]


# --------------------------------------------------------------------------- services


def test_create_template(workspace, editor):
    domain = ContentDomain.objects.create(workspace=workspace, key="tech", name="Technology")

    template = create_template(
        workspace=workspace,
        actor=editor,
        name="  Launch   day ",
        body=" New: {product} ",
        platform="x",
        domain_key="tech",
    )

    assert (template.name, template.body, template.platform, template.domain, template.created_by) == (
        "Launch day",
        "New: {product}",
        "x",
        domain,
        editor,
    )


def test_any_platform_is_stored_as_empty(workspace, editor):
    assert create_template(workspace=workspace, actor=editor, name="A", body="b", platform="any").platform == ""


@pytest.mark.parametrize(
    ("values", "errors"),
    [
        ({"name": "", "body": ""}, {"name": ["Give the template a name."], "body": ["Write the template's text."]}),
        ({"name": "LAUNCH"}, {"name": ["There is already a template called “LAUNCH”. Choose another name."]}),
        ({"name": "n" * 121}, {"name": ["Use at most 120 characters for the name."]}),
        ({"body": "b" * 5001}, {"body": ["Use at most 5000 characters; this text has 5001."]}),
        ({"platform": "myspace"}, {"platform": ["Choose “Any platform” or one of the platforms in the list."]}),
        ({"domain_key": "theirs"}, {"domain": ["Choose one of this workspace's content domains."]}),
    ],
)
def test_create_template_refuses_bad_values(workspace, editor, values, errors):
    _template(workspace, name="Launch")
    ContentDomain.objects.create(workspace=WorkspaceFactory(), key="theirs", name="Theirs")

    with pytest.raises(ValidationError) as excinfo:
        create_template(workspace=workspace, actor=editor, **{"name": "New", "body": "Text", **values})

    assert excinfo.value.message_dict == errors
    assert Template.objects.count() == 1


def test_the_same_name_is_fine_in_another_workspace(workspace, editor):
    _template(WorkspaceFactory(), name="Launch")

    assert create_template(workspace=workspace, actor=editor, name="launch", body="x").name == "launch"


def test_update_keeps_its_own_name_and_checks_the_others(workspace, editor):
    template = _template(workspace, name="Launch")
    _template(workspace, name="Other")

    update_template(template=template, actor=editor, name="launch", body="New {x}", platform="bluesky")
    with pytest.raises(ValidationError):
        update_template(template=template, actor=editor, name="other", body="New {x}")

    template.refresh_from_db()
    assert (template.name, template.body, template.platform) == ("launch", "New {x}", "bluesky")


def test_viewers_cannot_write_templates(workspace, viewer):
    template = _template(workspace)

    with pytest.raises(PermissionDenied):
        create_template(workspace=workspace, actor=viewer, name="A", body="b")
    with pytest.raises(PermissionDenied):
        update_template(template=template, actor=viewer, name="A", body="b")
    with pytest.raises(PermissionDenied):
        delete_template(template=template, actor=viewer)

    assert list(Template.objects.values_list("name", flat=True)) == ["Launch"]


def test_a_member_of_another_workspace_cannot_write_its_templates(workspace):
    outsider = MembershipFactory(role="owner").user

    with pytest.raises(PermissionDenied):
        create_template(workspace=workspace, actor=outsider, name="A", body="b")


# --------------------------------------------------------------------------- pages


def _url(name, workspace, **kwargs):
    return reverse(f"content_templates:{name}", kwargs={"workspace_slug": workspace.slug, **kwargs})


def test_the_list_shows_templates_variables_and_domains(client, workspace, viewer):
    _template(workspace, platform="x")
    ContentDomain.objects.create(
        workspace=workspace, key="memes", name="Memes & Humor", audience="Gen Z", tone="Playful", sample_posts=["lol"]
    )
    client.force_login(viewer)

    html = client.get(_url("list", workspace)).content.decode()

    assert "Launch" in html and "<code>{product}</code>" in html and "<code>{link}</code>" in html
    assert "Gen Z" in html and "Playful" in html and "lol" in html
    assert _url("create", workspace) not in html


def test_an_editor_creates_a_template(client, workspace, editor):
    client.force_login(editor)

    response = client.post(
        _url("create", workspace), {"name": "Launch", "body": "Meet {product}", "platform": "any", "domain": ""}
    )

    template = Template.objects.get()
    assert response["Location"] == _url("edit", workspace, pk=template.pk)
    assert (template.name, template.platform, template.workspace) == ("Launch", "", workspace)


def test_form_errors_are_shown_next_to_the_fields(client, workspace, editor):
    _template(workspace, name="Launch")
    client.force_login(editor)

    response = client.post(_url("create", workspace), {"name": "launch", "body": "x", "platform": "any"})

    assert response.status_code == 400
    assert response.context["form"].errors["name"] == [
        "There is already a template called “launch”. Choose another name."
    ]


def test_the_edit_page_previews_the_template_with_its_length_per_platform(client, workspace, editor):
    SocialAccountFactory(workspace=workspace, platform="x", handle="acme")
    SocialAccountFactory(workspace=workspace, platform="bluesky", handle="acme.bsky.social")
    template = _template(workspace, body="Meet {product}! https://example.com/a/long/path/beyond/twenty/three {link}")
    client.force_login(editor)

    response = client.get(_url("edit", workspace, pk=template.pk), {"v_product": "Sprout"})

    assert response.context["rendered"] == "Meet Sprout! https://example.com/a/long/path/beyond/twenty/three {link}"
    assert response.context["missing"] == ["link"]
    lengths = {preview["platform"]: preview["length"] for preview in response.context["previews"]}
    # X counts the URL as 23; Bluesky counts every character.
    assert lengths == {"x": len("Meet Sprout! ") + 23 + len(" {link}"), "bluesky": len(response.context["rendered"])}


def test_a_template_for_one_platform_is_previewed_for_that_platform_only(client, workspace, editor):
    SocialAccountFactory(workspace=workspace, platform="x")
    SocialAccountFactory(workspace=workspace, platform="bluesky")
    template = _template(workspace, platform="bluesky")
    client.force_login(editor)

    response = client.get(_url("edit", workspace, pk=template.pk))

    assert [preview["platform"] for preview in response.context["previews"]] == ["bluesky"]


def test_a_viewer_reads_a_template_but_cannot_change_it(client, workspace, viewer):
    template = _template(workspace)
    client.force_login(viewer)

    page = client.get(_url("edit", workspace, pk=template.pk))
    post = client.post(_url("edit", workspace, pk=template.pk), {"name": "Mine", "body": "x", "platform": "any"})

    assert page.status_code == 200
    assert page.context["form"].fields["name"].disabled
    assert post.status_code == 403
    assert client.post(_url("delete", workspace, pk=template.pk)).status_code == 403
    template.refresh_from_db()
    assert template.name == "Launch"


def test_an_editor_edits_a_template(client, workspace, editor):
    template = _template(workspace)
    client.force_login(editor)

    response = client.post(
        _url("edit", workspace, pk=template.pk), {"name": "Spring", "body": "Hi {name}", "platform": "x"}
    )

    template.refresh_from_db()
    assert response.status_code == 302
    assert (template.name, template.body, template.platform) == ("Spring", "Hi {name}", "x")


def test_delete_asks_first_then_deletes(client, workspace, editor):
    template = _template(workspace)
    client.force_login(editor)

    page = client.get(_url("delete", workspace, pk=template.pk))
    response = client.post(_url("delete", workspace, pk=template.pk))

    assert page.status_code == 200 and "Delete “Launch”?" in page.content.decode()
    assert response["Location"] == _url("list", workspace)
    assert not Template.objects.exists()


def test_render_answers_json_for_the_composer(client, workspace, viewer):
    template = _template(workspace)
    client.force_login(viewer)

    response = client.get(_url("render", workspace, pk=template.pk), {"v_product": "Sprout", "v_other": "x"})

    assert response.json() == {
        "id": template.pk,
        "text": "Meet Sprout! {link}",
        "missing": ["link"],
        "variables": ["product", "link"],
        "domain": "",
    }


def test_another_workspaces_template_is_not_found(client, workspace, editor):
    theirs = _template(WorkspaceFactory())
    client.force_login(editor)

    for name in ("edit", "delete", "render"):
        assert client.get(_url(name, workspace, pk=theirs.pk)).status_code == 404
