"""The Meta Graph family: its error envelope, its usage headers and the container publish flow.

Instagram and Threads publish the same way (../shared/PLATFORMS.md §4, §5, §12):

1. `prepare`: create a media container (`POST /{user-id}/media` or `/threads`); its id is the
   handle the engine saves *before* anything can be published.
2. `publish`: wait until the container is FINISHED, then publish it
   (`POST /{user-id}/media_publish` or `/threads_publish` with `creation_id`).
3. `lookup` after a crash: the container's status says whether step 2 happened (PUBLISHED).
   The container does not name the media it became [U: no such field in the IG Container or
   Threads container references], so we then list the account's recent media and match the
   text we sent. A container that is PUBLISHED is never published again, so the handle makes
   `publish` safe to repeat.

Every Graph error has the envelope `{"error": {message, type, code, error_subcode, is_transient,
fbtrace_id}}`; `MetaGraphProvider.classify` maps its codes (Graph error-handling guide,
Instagram error-codes reference). The Facebook Pages provider (providers/facebook/) speaks the
same envelope and could take its `classify`/`retry_after` from here.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from ipaddress import ip_address
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlsplit

import regex
import requests

from publishing.providers.base import (
    Credentials,
    ErrorKind,
    HttpProvider,
    Media,
    ProviderConfig,
    ProviderError,
    PublishResult,
    ValidationIssue,
    Variant,
)

logger = logging.getLogger(__name__)

# --------------------------------------------------------------------------- error codes

# Graph error-handling guide and PLATFORMS.md §3/§4. 102: API session; 190: token expired or invalid.
AUTH_CODES = frozenset({102, 190})
# 4 app, 17 user, 32 page, 613 custom limits, 341 app limit, 9 (IG: the 24-hour publishing limit,
# subcode 2207042), 80001 to 80014 Business Use Case limits (80002 is Instagram's) [U: 9 outside IG].
RATE_LIMIT_CODES = frozenset({4, 9, 17, 32, 341, 613, *range(80001, 80015)})
POLICY_BLOCK_CODE = 368  # temporarily blocked for policy violations: retrying does not help
APP_CODES = frozenset({101})  # our app id or secret was refused: a configuration error, not the post
DUPLICATE_CODE = 506
# 100 invalid parameter, 9004 (IG) media could not be fetched, 36000 to 36999 (IG) media spec errors.
INVALID_CODES = frozenset({100, 9004})
# 1 unknown, 2 service down, -1/-2 (IG) server and download hiccups, 9007 (IG) media not ready yet.
TRANSIENT_CODES = frozenset({1, 2, -1, -2, 9007})
# Subcodes that decide on their own, whatever their code says (Instagram error-codes reference).
SUBCODE_KINDS: dict[int, ErrorKind] = {
    2207020: ErrorKind.PERMANENT,  # the container expired: only a new container helps
    2207050: ErrorKind.PERMANENT,  # the account is inactive, checkpointed or restricted
    2207051: ErrorKind.PERMANENT,  # code 4, but "suspected spam", not a rate limit
    2207042: ErrorKind.RATE_LIMITED,  # the 24-hour publishing limit
}
NOT_FOUND = (100, 33)  # "Object with ID … does not exist, cannot be loaded due to missing permissions"
LINK_LIMIT = "LINK_LIMIT_EXCEEDED"  # Threads: THREADS_API__LINK_LIMIT_EXCEEDED, shape [U]

# Container statuses (IG Container reference `status_code`; Threads container `status`).
IN_PROGRESS, FINISHED, PUBLISHED, ERROR, EXPIRED = "IN_PROGRESS", "FINISHED", "PUBLISHED", "ERROR", "EXPIRED"


class GraphError(ProviderError):
    """A ProviderError that keeps the Graph `code` and `error_subcode` (lookup tells "not found" apart)."""

    def __init__(self, kind: ErrorKind, message: str, *, code: int | None, subcode: int | None, **kwargs: Any):
        super().__init__(kind, message, **kwargs)
        self.code = code
        self.subcode = subcode


@dataclass(frozen=True)
class ContainerStatus:
    code: str  # IN_PROGRESS, FINISHED, PUBLISHED, ERROR, EXPIRED
    detail: str = ""  # IG `status` ("Error: …"), Threads `error_message`


# --------------------------------------------------------------------------- text helpers

HASHTAG = regex.compile(r"(?<![\w&])#\w+")


def normalised(text: str) -> str:
    """The text with runs of whitespace collapsed, as Variant.fingerprint compares it."""
    return " ".join(text.split())


def compose_text(variant: Variant) -> str:
    """The caption we send: the text, plus the variant's link on its own line when the text lacks it."""
    text = variant.text.strip()
    if variant.link and variant.link not in text:
        return f"{text}\n\n{variant.link}" if text else variant.link
    return text


def media_url_problem(media: Media, *, platform: str, allow_loopback: bool) -> str:
    """Why `platform` could not fetch this media from its URL, or "" when it can try.

    Meta cURLs the media itself (content-publishing guide), so a file only we can reach fails
    at container creation. The emulator runs on loopback, so it allows loopback URLs.
    """
    if not media.url:
        return f"{platform} fetches media from a public URL, and this file has none."
    parts = urlsplit(media.url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return f"{platform} fetches media over HTTP(S); this file's address is not a web URL."
    if allow_loopback:
        return ""
    host = parts.hostname
    try:
        address = ip_address(host)
    except ValueError:
        is_private = host == "localhost" or host.endswith((".localhost", ".local", ".internal"))
    else:
        is_private = address.is_private or address.is_loopback or address.is_link_local or address.is_reserved
    if is_private:
        return f"{platform} cannot reach a file on a private address ({host}); it needs a public URL."
    return ""


# --------------------------------------------------------------------------- the family base


class MetaGraphProvider(HttpProvider):
    """What Instagram and Threads share: Graph errors and the container → publish flow.

    Subclasses set the edge names and implement `version`, `prepare`, `require_publishable`
    and `fallback_url`.
    """

    publish_edge: ClassVar[str]  # media_publish | threads_publish
    media_edge: ClassVar[str]  # media | threads (GET lists the account's published posts)
    limit_edge: ClassVar[str]  # content_publishing_limit | threads_publishing_limit
    text_field: ClassVar[str]  # caption | text
    status_fields: ClassVar[str]  # the fields to read a container's status with
    status_key: ClassVar[str]  # status_code | status
    detail_key: ClassVar[str]  # status | error_message
    # How long `publish` waits for a container to finish processing before giving up for now
    # (the engine retries with the same container). Threads suggests ~30 s; images take seconds.
    container_wait_seconds: ClassVar[float] = 30.0
    lookup_page_size: ClassVar[int] = 50
    # Swapped out by tests so waiting for a container costs nothing.
    sleep = staticmethod(time.sleep)

    def __init__(self, config: ProviderConfig) -> None:
        super().__init__(config)
        # Containers `check_prepared` saw FINISHED, not published yet by this instance.
        self._finished_containers: set[str] = set()

    # -- URLs and calls
    def version(self) -> str:
        """The API version segment of every data path (v24.0, v1.0)."""
        raise NotImplementedError

    def graph_url(self, path: str) -> str:
        """The absolute, versioned URL of a Graph path."""
        return f"{self.config.api_base.rstrip('/')}/{self.version()}/{path.lstrip('/')}"

    def graph(self, method: str, path: str, credentials: Credentials, **kwargs: Any) -> dict[str, Any]:
        """Call a Graph path for `credentials` (token in the Authorization header) and return its JSON object."""
        response = self.request(method, self.graph_url(path), credentials=credentials, **kwargs)
        return self.json_of(response, method)

    def secret_call(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """Call a token endpoint whose documented parameters carry a secret (client_secret, a token).

        requests puts the URL, query included, into its connection errors: drop that chained
        exception so no traceback can carry the secret.
        """
        try:
            return self.request(method, url, **kwargs)
        except ProviderError as exc:
            raise exc from None

    def json_of(self, response: requests.Response, method: str) -> dict[str, Any]:
        """The JSON object of a successful answer; TRANSIENT (maybe sent, for writes) when it is not one."""
        try:
            body = response.json()
        except ValueError:
            body = None
        if not isinstance(body, dict):
            # A 2xx that is not Graph JSON (a proxy page?): a POST may still have acted.
            raise ProviderError(
                ErrorKind.TRANSIENT,
                f"{self.display_name} answered with something that is not JSON.",
                status=response.status_code,
                maybe_sent=method != "GET",
            )
        return body

    def owner_id(self, credentials: Credentials) -> str:
        """The platform user id that owns containers and posts (the connected account)."""
        if not credentials.account_id:
            raise ProviderError(ErrorKind.PERMANENT, f"This {self.display_name} connection has no account id.")
        return credentials.account_id

    # -- errors
    def classify(self, response: requests.Response) -> ProviderError:
        """Map the Graph error envelope to an ErrorKind; non-Graph answers fall back to the HTTP status."""
        error = _graph_error(response)
        if error is None:
            return super().classify(response)
        status = response.status_code
        code, subcode = _int(error.get("code")), _int(error.get("error_subcode"))
        message = self.error_message(response)
        kind = self.kind_for(error, code, subcode, status)
        retry_after = self.retry_after(response) if kind in (ErrorKind.RATE_LIMITED, ErrorKind.TRANSIENT) else None
        return GraphError(kind, message, code=code, subcode=subcode, status=status, retry_after=retry_after)

    def kind_for(self, error: dict[str, Any], code: int | None, subcode: int | None, status: int) -> ErrorKind:
        """The ErrorKind of one Graph error. Subcodes first: they refine (and sometimes contradict) the code."""
        if subcode in SUBCODE_KINDS:
            return SUBCODE_KINDS[subcode]
        if code in AUTH_CODES:
            return ErrorKind.AUTH_EXPIRED
        if code in RATE_LIMIT_CODES:
            return ErrorKind.RATE_LIMITED
        if code == POLICY_BLOCK_CODE or code in APP_CODES:
            return ErrorKind.PERMANENT
        if code == DUPLICATE_CODE:
            return ErrorKind.DUPLICATE
        if LINK_LIMIT in json.dumps(error):
            return ErrorKind.INVALID_CONTENT
        if code in INVALID_CODES or (code is not None and 36000 <= code <= 36999):
            return ErrorKind.INVALID_CONTENT
        if code in TRANSIENT_CODES or error.get("is_transient") is True or status >= 500:
            return ErrorKind.TRANSIENT
        if code == 10 or (code is not None and 200 <= code <= 299):
            return ErrorKind.PERMANENT  # a permission the connection lacks: reconnecting grants it
        if status == 401:
            return ErrorKind.AUTH_EXPIRED
        if status == 429:
            return ErrorKind.RATE_LIMITED
        return ErrorKind.PERMANENT if status != 400 else ErrorKind.INVALID_CONTENT

    def error_message(self, response: requests.Response) -> str:
        """The Graph error's own words (its user message when it has one), its codes, and never a token."""
        error = _graph_error(response)
        if error is None:
            return _scrub(super().error_message(response), response)
        text = str(error.get("error_user_msg") or error.get("message") or response.reason or "error")
        code, subcode = error.get("code"), error.get("error_subcode")
        codes = f" (code {code}" + (f", subcode {subcode}" if subcode else "") + ")" if code is not None else ""
        return _scrub(f"{self.display_name} answered {response.status_code}: {text[:300]}{codes}", response)

    def retry_after(self, response: requests.Response) -> float | None:
        """Seconds to wait, from X-Business-Use-Case-Usage `estimated_time_to_regain_access` (minutes).

        The header maps business object ids to lists of usage entries (rate-limiting guide). Meta
        writes whole minutes [U]; fractions are read as given. Falls back to Retry-After.
        """
        minutes = _regain_minutes(response.headers.get("X-Business-Use-Case-Usage"))
        if minutes:
            return minutes * 60.0
        return super().retry_after(response)

    # -- containers
    def create_container(self, credentials: Credentials, params: dict[str, str]) -> str:
        """Create one media container and return its id."""
        body = self.graph(
            "POST", f"{self.owner_id(credentials)}/{self.media_edge}", credentials, data=_without_empty(params)
        )
        container_id = str(body.get("id") or "")
        if not container_id:
            raise ProviderError(ErrorKind.TRANSIENT, f"{self.display_name} created no container id.", maybe_sent=True)
        return container_id

    def container_status(self, credentials: Credentials, container_id: str) -> ContainerStatus:
        """Read a container's status (IN_PROGRESS, FINISHED, PUBLISHED, ERROR or EXPIRED)."""
        body = self.graph("GET", container_id, credentials, params={"fields": self.status_fields})
        return ContainerStatus(str(body.get(self.status_key) or ""), str(body.get(self.detail_key) or ""))

    def check_prepared(self, credentials: Credentials, handle: str) -> None:
        """A container already FINISHED ahead of the due time stays so until it is published (or in 24 h
        expires): `publish` then sends it without asking for its status again, in the due second."""
        try:
            status = self.container_status(credentials, handle)
        except ProviderError:
            return
        if status.code == FINISHED:
            self._finished_containers.add(handle)

    def wait_for_container(self, credentials: Credentials, container_id: str) -> ContainerStatus:
        """Poll until the container is FINISHED or PUBLISHED, for at most `container_wait_seconds`.

        ERROR is the media's fault (INVALID_CONTENT); EXPIRED (24 h unpublished) needs a new
        container (PERMANENT); still IN_PROGRESS at the deadline is TRANSIENT, and the retry
        uses the same container.
        """
        deadline = time.monotonic() + self.container_wait_seconds
        delay = 0.25
        while True:
            status = self.container_status(credentials, container_id)
            if status.code in (FINISHED, PUBLISHED):
                return status
            if status.code == ERROR:
                detail = f": {status.detail[:200]}" if status.detail else "."
                raise ProviderError(
                    ErrorKind.INVALID_CONTENT, f"{self.display_name} could not process the media{detail}"
                )
            if status.code == EXPIRED:
                raise ProviderError(
                    ErrorKind.PERMANENT,
                    f"The prepared {self.display_name} post expired (containers live 24 hours); prepare it again.",
                )
            if time.monotonic() + delay > deadline:
                raise ProviderError(
                    ErrorKind.TRANSIENT, f"{self.display_name} is still processing the media.", retry_after=60.0
                )
            self.sleep(delay)
            delay = min(delay * 2, 5.0)

    # -- publishing
    def require_publishable(self, variant: Variant) -> None:
        """Raise INVALID_CONTENT for what the platform is sure to refuse, before any call."""

    def publish(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult:
        """Publish the prepared container `handle` (prepared here when empty) exactly once.

        A container that is already PUBLISHED means an earlier attempt went through but its
        answer was lost: that post is returned and nothing is published again.
        """
        self.require_publishable(variant)
        container_id = handle or self.prepare(credentials, variant)
        if container_id in self._finished_containers:
            self._finished_containers.discard(container_id)
            status = ContainerStatus(FINISHED, "")
        else:
            status = self.wait_for_container(credentials, container_id)
        if status.code == PUBLISHED:
            found = self.find_published(credentials, variant)
            if found is not None:
                return found
            raise ProviderError(
                ErrorKind.PERMANENT,
                f"This post was already published on {self.display_name}, but it can no longer be found there.",
            )
        body = self.graph(
            "POST",
            f"{self.owner_id(credentials)}/{self.publish_edge}",
            credentials,
            params={"creation_id": container_id},
        )
        media_id = str(body.get("id") or "")
        if not media_id:
            raise ProviderError(
                ErrorKind.TRANSIENT, f"{self.display_name} published without naming the post.", maybe_sent=True
            )
        return PublishResult(remote_id=media_id, url=self.permalink(credentials, media_id))

    def lookup(self, credentials: Credentials, variant: Variant, *, handle: str = "") -> PublishResult | None:
        """Find the post made from container `handle`; None if that container was never published.

        Only a PUBLISHED container leads to a search of the account's recent posts for our text.
        A container the platform no longer knows (purged [U]) falls back to that search too.
        """
        if handle:
            try:
                status = self.container_status(credentials, handle)
            except GraphError as exc:
                if (exc.code, exc.subcode) != NOT_FOUND:
                    raise
            else:
                if status.code != PUBLISHED:
                    return None
        return self.find_published(credentials, variant)

    def find_published(self, credentials: Credentials, variant: Variant) -> PublishResult | None:
        """The newest of the account's recent posts whose text is the one we send for `variant`."""
        wanted = normalised(compose_text(variant))
        body = self.graph(
            "GET",
            f"{self.owner_id(credentials)}/{self.media_edge}",
            credentials,
            params={"fields": f"id,{self.text_field},permalink,timestamp", "limit": str(self.lookup_page_size)},
        )
        for item in body.get("data") or []:  # newest first
            if normalised(str(item.get(self.text_field) or "")) == wanted and item.get("id"):
                url = str(item.get("permalink") or "") or self.fallback_url(credentials)
                return PublishResult(remote_id=str(item["id"]), url=url)
        return None

    def permalink(self, credentials: Credentials, media_id: str) -> str:
        """The post's permalink; the profile URL when it cannot be read (the post exists either way)."""
        try:
            body = self.graph("GET", media_id, credentials, params={"fields": "permalink"})
        except ProviderError as exc:
            logger.warning("%s permalink of %s unavailable: %s", self.slug, media_id, exc.message)
            return self.fallback_url(credentials)
        return str(body.get("permalink") or "") or self.fallback_url(credentials)

    def fallback_url(self, credentials: Credentials) -> str:
        """A URL for the account's profile, when a post's permalink cannot be read."""
        raise NotImplementedError

    # -- limits and metrics
    def publishing_quota(self, credentials: Credentials) -> tuple[int, int]:
        """Return (posts published in the last 24 h, the allowed total) for the account."""
        body = self.graph(
            "GET",
            f"{self.owner_id(credentials)}/{self.limit_edge}",
            credentials,
            params={"fields": "quota_usage,config"},
        )
        entry = (body.get("data") or [{}])[0]
        config = entry.get("config") or {}
        return int(entry.get("quota_usage") or 0), int(config.get("quota_total") or 0)

    def insights(self, credentials: Credentials, media_id: str, metrics: tuple[str, ...]) -> dict[str, int]:
        """One media's lifetime insights, metric name → value."""
        body = self.graph("GET", f"{media_id}/insights", credentials, params={"metric": ",".join(metrics)})
        values: dict[str, int] = {}
        for entry in body.get("data") or []:
            # Older answers carry `values: [{value}]`, newer ones `total_value: {value}`.
            total = entry.get("total_value") or {}
            series = entry.get("values") or [{}]
            value = total.get("value", series[-1].get("value", 0))
            values[str(entry.get("name"))] = int(value or 0)
        return values


# --------------------------------------------------------------------------- helpers


def _graph_error(response: requests.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    error = body.get("error") if isinstance(body, dict) else None
    return error if isinstance(error, dict) else None


def _int(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _regain_minutes(header: str | None) -> float | None:
    if not header:
        return None
    try:
        usage = json.loads(header)
    except ValueError:
        return None
    if not isinstance(usage, dict):
        return None
    minutes = [
        float(entry.get("estimated_time_to_regain_access") or 0)
        for entries in usage.values()
        if isinstance(entries, list)
        for entry in entries
        if isinstance(entry, dict)
    ]
    return max(minutes, default=0.0) or None


def _scrub(message: str, response: requests.Response) -> str:
    """Remove the request's own token from a message, should the platform ever echo it."""
    request = response.request
    if request is None:
        return message
    secrets = []
    authorization = str(request.headers.get("Authorization", ""))
    if " " in authorization:
        secrets.append(authorization.split(" ", 1)[1])
    query = parse_qs(urlsplit(request.url or "").query)
    for key in ("access_token", "fb_exchange_token", "client_secret"):
        secrets.extend(query.get(key, []))
    for secret in secrets:
        if secret:
            message = message.replace(secret, "[redacted]")
    return message


def _without_empty(params: dict[str, str]) -> dict[str, str]:
    return {key: value for key, value in params.items() if value not in ("", None)}


def hashtag_count(text: str) -> int:
    return len(HASHTAG.findall(text))


def validation_issue(field: str, message: str, *, blocking: bool = True) -> ValidationIssue:
    return ValidationIssue(field=field, message=message, is_blocking=blocking)
