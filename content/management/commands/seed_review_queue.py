"""Load (or remove) a large approval queue, to measure the staff review queue in admin at volume.

    python manage.py seed_review_queue --posts 100000 [--workspaces 50] [--measure]
    python manage.py seed_review_queue --measure          # time the queue as it is
    python manage.py seed_review_queue --delete           # remove everything it made

Everything lives in throw-away workspaces named "Review load NN" (slugs
"review-load-NN") with authors "review-load-…@example.invalid"; `--delete`
removes exactly those. Rows are written with `bulk_create` in chunks: this is
test data, so it skips the services on purpose (no events, no notifications).
`--measure` renders the queue's list page with Django's test client, logged in
as a staff user the command makes, and prints the time and query count of each
case (no filter, a workspace, a source, a search, page 50).
"""

from __future__ import annotations

import random
import statistics
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from django.core.cache import cache
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connection, transaction
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings
from django.urls import reverse

from accounts.models import Membership, User, Workspace
from content.admin import CACHE_PREFIX, COUNT_CAP
from content.models import Post, PostMedia
from publishing.models import PostEvent, PostTarget, SocialAccount

NAME_PREFIX = "Review load "
SLUG_PREFIX = "review-load-"
EMAIL_DOMAIN = "example.invalid"
STAFF_EMAIL = f"{SLUG_PREFIX}staff@{EMAIL_DOMAIN}"
PLATFORMS = ("x", "linkedin", "mastodon", "bluesky", "threads", "facebook", "instagram")
# A realistic mix: most of the queue is generated, a fair share written by hand, some from templates.
SOURCES = ((Post.Source.AI, 0.55), (Post.Source.MANUAL, 0.30), (Post.Source.TEMPLATE, 0.15))
WORDS = [
    "fresh",
    "bread",
    "sourdough",
    "workshop",
    "weekend",
    "offer",
    "new",
    "menu",
    "coffee",
    "launch",
    "team",
    "update",
    "customers",
    "thanks",
    "summer",
    "autumn",
    "recipe",
    "behind",
    "scenes",
    "tips",
    "event",
    "tickets",
    "community",
    "local",
    "market",
    "bakery",
    "croissant",
]


class Command(BaseCommand):
    help = 'Load N posts awaiting review into "Review load" workspaces (or --delete them); --measure times the queue.'

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--posts", type=int, default=0, help="How many posts awaiting review to create.")
        parser.add_argument("--workspaces", type=int, default=50, help="How many throw-away workspaces (default 50).")
        parser.add_argument("--chunk", type=int, default=5000, help="Rows per bulk insert (default 5000).")
        parser.add_argument("--seed", type=int, default=7, help="Random seed, for repeatable data.")
        parser.add_argument("--delete", action="store_true", help='Remove every "Review load" workspace and user.')
        parser.add_argument("--measure", action="store_true", help="Time the queue's list page in admin.")
        parser.add_argument("--repeat", type=int, default=5, help="Renders per measured case (default 5).")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["posts"] < 0 or options["workspaces"] < 1 or options["chunk"] < 1 or options["repeat"] < 1:
            raise CommandError("--posts must be 0 or more; --workspaces, --chunk and --repeat at least 1.")
        if not (options["delete"] or options["posts"] or options["measure"]):
            raise CommandError("Say what to do: --posts N to load, --delete to remove, --measure to time the queue.")
        if options["delete"]:
            self.delete()
        if options["posts"]:
            self.seed(
                posts=options["posts"], workspaces=options["workspaces"], chunk=options["chunk"], seed=options["seed"]
            )
        if options["measure"]:
            self.measure(repeat=options["repeat"])

    # ----------------------------------------------------------------------- delete

    def delete(self) -> None:
        started = time.monotonic()
        workspaces = Workspace.objects.filter(name__startswith=NAME_PREFIX, slug__startswith=SLUG_PREFIX)
        ids = list(workspaces.values_list("pk", flat=True))
        posts = Post.objects.filter(workspace_id__in=ids)
        targets = PostTarget.objects.filter(workspace_id__in=ids)
        with transaction.atomic():
            # A cascade from the workspaces would load every post and target into memory first; delete the big
            # tables with one statement each instead, children first. Anything else pointing at posts or targets
            # (rows a tester made by acting on load posts) goes through the ORM, with its own cascades.
            for model, rows in ((PostTarget, targets), (Post, posts)):
                for relation in model._meta.related_objects:
                    if relation.related_model not in (PostTarget, PostEvent, PostMedia):
                        relation.related_model._base_manager.filter(**{f"{relation.field.name}__in": rows}).delete()
            PostEvent.objects.filter(post__in=posts)._raw_delete(PostEvent.objects.db)
            PostMedia.objects.filter(post__in=posts)._raw_delete(PostMedia.objects.db)
            removed_targets = targets._raw_delete(PostTarget.objects.db)
            removed_posts = posts._raw_delete(Post.objects.db)
            workspaces.delete()
            users = User.objects.filter(email__startswith=SLUG_PREFIX, email__endswith=f"@{EMAIL_DOMAIN}").delete()[0]
        self.stdout.write(
            f"Deleted {len(ids)} workspaces, {removed_posts} posts, {removed_targets} targets and "
            f"{users} rows of load users and their memberships in {time.monotonic() - started:.1f} s."
        )

    # ----------------------------------------------------------------------- seed

    def seed(self, *, posts: int, workspaces: int, chunk: int, seed: int) -> None:
        if Workspace.objects.filter(name__startswith=NAME_PREFIX, slug__startswith=SLUG_PREFIX).exists():
            raise CommandError('"Review load" workspaces exist already: run with --delete first (or with both).')
        rng = random.Random(seed)  # noqa: S311 - test data, not security
        started = time.monotonic()
        now = datetime.now(tz=UTC)

        spaces = Workspace.objects.bulk_create(
            Workspace(name=f"{NAME_PREFIX}{n:02d}", slug=f"{SLUG_PREFIX}{n:02d}", timezone="Europe/Berlin")
            for n in range(1, workspaces + 1)
        )
        authors: dict[int, list[User]] = {}
        accounts: dict[int, list[SocialAccount]] = {}
        for space in spaces:
            people = [
                User(email=f"{SLUG_PREFIX}{space.slug[len(SLUG_PREFIX) :]}-{n}@{EMAIL_DOMAIN}", name=f"Load author {n}")
                for n in range(1, rng.randint(2, 6) + 1)
            ]
            for person in people:
                person.set_unusable_password()
            authors[space.pk] = User.objects.bulk_create(people)
            Membership.objects.bulk_create(
                Membership(user=person, workspace=space, role=Membership.Role.EDITOR) for person in authors[space.pk]
            )
            accounts[space.pk] = SocialAccount.objects.bulk_create(
                SocialAccount(
                    workspace=space,
                    platform=platform,
                    account_id=f"load-{space.pk}-{platform}",
                    handle=f"{space.slug}_{platform}",
                    access_token="load-test-token",  # noqa: S106 - a fake token of throw-away test data
                    config={"instance": "mastodon.example"} if platform == "mastodon" else {},
                )
                for platform in rng.sample(PLATFORMS, rng.randint(2, 4))
            )

        # Some workspaces are far busier than others, as in life: the filters must cope with both.
        weights = [rng.paretovariate(1.2) for _ in spaces]
        sources, source_weights = zip(*SOURCES, strict=True)
        created = 0
        while created < posts:
            size = min(chunk, posts - created)
            batch_spaces = rng.choices(spaces, weights=weights, k=size)
            batch = []
            for space in batch_spaces:
                source = rng.choices(sources, weights=source_weights)[0]
                words = " ".join(rng.choices(WORDS, k=rng.randint(6, 40)))
                batch.append(
                    Post(
                        workspace=space,
                        author=rng.choice(authors[space.pk]),
                        text=f"{words.capitalize()}. #letsgrow",
                        source=source,
                        status=Post.Status.PENDING_REVIEW,
                        submitted_at=now - timedelta(seconds=rng.randint(60, 42 * 24 * 3600)),
                        generation={"prompt": f"Write about {rng.choice(WORDS)}", "model": "load-test"}
                        if source == Post.Source.AI
                        else {},
                    )
                )
            with transaction.atomic():
                made = Post.objects.bulk_create(batch)
                targets = []
                for post in made:
                    chosen = rng.sample(
                        accounts[post.workspace_id], rng.randint(1, min(3, len(accounts[post.workspace_id])))
                    )
                    # About 40 % have no time yet; the rest a kept proposed time from 3 days ago to a month ahead.
                    when = (
                        None if rng.random() < 0.4 else now + timedelta(minutes=rng.randint(-3 * 24 * 60, 30 * 24 * 60))
                    )
                    targets += [
                        PostTarget(
                            workspace_id=post.workspace_id,
                            post=post,
                            social_account=account,
                            scheduled_at=when,
                            schedule_timezone="Europe/Berlin" if when else "",
                        )
                        for account in chosen
                    ]
                PostTarget.objects.bulk_create(targets)
            created += size
            self.stdout.write(f"  {created} / {posts} posts")
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                # Fresh statistics, as autovacuum would have them on a live system a minute later.
                cursor.execute("ANALYZE content_post")
                cursor.execute("ANALYZE publishing_posttarget")
        self.stdout.write(
            f"Created {posts} posts awaiting review in {len(spaces)} workspaces in {time.monotonic() - started:.1f} s."
        )

    # ----------------------------------------------------------------------- measure

    def measure(self, *, repeat: int) -> None:
        staff, _ = User.objects.get_or_create(
            email=STAFF_EMAIL, defaults={"name": "Review load staff", "is_staff": True, "is_superuser": True}
        )
        busiest = (
            Post.objects.filter(status=Post.Status.PENDING_REVIEW, workspace__slug__startswith=SLUG_PREFIX)
            .values("workspace_id")
            .annotate(waiting=Count("id"))
            .order_by("-waiting")
            .values_list("workspace_id", flat=True)
            .first()
        )
        url = reverse("admin:content_pendingreviewpost_changelist")
        cases = [
            ("no filter", ""),
            ("workspace filter", f"?workspace={busiest or 0}"),
            ("source filter (AI)", "?source=ai"),
            ("platform + proposed in 7 days", "?platform=linkedin&when=7d"),
            ("search 'sourdough'", "?q=sourdough"),
            ("search, no match (full scan)", "?q=zzyzx"),
        ]
        total = Post.objects.filter(status=Post.Status.PENDING_REVIEW).count()
        # Page 50 of 50 rows, or the last page of a smaller queue (admin answers a page beyond the end with a redirect).
        page = max(1, min(50, -(-min(total, COUNT_CAP) // 50)))
        cases.append((f"page {page}", f"?p={page}"))
        self.stdout.write(
            f"Queue: {total} posts awaiting review; database: {connection.vendor}; {repeat} renders each."
        )
        # The test client needs its host allowed; 2FA is the login's business, not the list's.
        with override_settings(STAFF_REQUIRE_2FA=False, ALLOWED_HOSTS=["testserver"]):
            client = Client()
            client.force_login(staff)
            for label, query in cases:
                # Cold: the sidebar's cached busiest workspaces and authors are built again (once a minute in life).
                cache.delete_many(
                    [f"{CACHE_PREFIX}:workspaces", f"{CACHE_PREFIX}:authors:all", f"{CACHE_PREFIX}:authors:{busiest}"]
                )
                started = time.perf_counter()
                client.get(url + query)
                cold = (time.perf_counter() - started) * 1000
                timings = []
                for _ in range(repeat):
                    with CaptureQueriesContext(connection) as queries:
                        started = time.perf_counter()
                        response = client.get(url + query)
                        timings.append((time.perf_counter() - started) * 1000)
                    if response.status_code != 200:
                        raise CommandError(f"{label}: the page answered {response.status_code}.")
                slowest_query = max((float(q["time"]) * 1000 for q in queries.captured_queries), default=0.0)
                rows = len(response.context_data["cl"].result_list)
                self.stdout.write(
                    f"  {label:<30} cold {cold:6.1f} ms  median {statistics.median(timings):6.1f} ms  "
                    f"max {max(timings):6.1f} ms  "
                    f"{len(queries)} queries (slowest {slowest_query:.1f} ms)  {rows} rows"
                )
