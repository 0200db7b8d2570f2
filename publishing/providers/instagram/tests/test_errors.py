"""The Graph error envelope → ErrorKind (meta.py), read through the Instagram provider."""

from __future__ import annotations

import json

import pytest
import requests

from publishing.providers.base import Credentials, ErrorKind, ProviderConfig, ProviderError
from publishing.providers.instagram.provider import InstagramProvider
from publishing.providers.meta import GraphError

TOKEN = "EAAGsecret-token-value"  # a stand-in


def provider() -> InstagramProvider:
    return InstagramProvider(ProviderConfig(api_base="http://127.0.0.1:9"))


def graph_response(status: int, error: dict, headers: dict | None = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps({"error": {"type": "OAuthException", "fbtrace_id": "Ax1", **error}}).encode()
    response.headers.update(headers or {})
    response.request = requests.Request(
        "POST", "https://graph.facebook.com/v24.0/1784/media_publish", headers={"Authorization": f"Bearer {TOKEN}"}
    ).prepare()
    return response


@pytest.mark.parametrize(
    ("status", "error", "kind"),
    [
        (400, {"code": 190, "error_subcode": 463, "message": "Session has expired"}, ErrorKind.AUTH_EXPIRED),
        (400, {"code": 4, "message": "Application request limit reached"}, ErrorKind.RATE_LIMITED),
        (400, {"code": 17, "message": "User request limit reached"}, ErrorKind.RATE_LIMITED),
        (400, {"code": 32, "message": "Page request limit reached"}, ErrorKind.RATE_LIMITED),
        (400, {"code": 613, "message": "Calls to this api have exceeded the rate limit."}, ErrorKind.RATE_LIMITED),
        (400, {"code": 80002, "message": "Too many calls to this Instagram account"}, ErrorKind.RATE_LIMITED),
        (400, {"code": 9, "error_subcode": 2207042, "message": "max posts"}, ErrorKind.RATE_LIMITED),
        (400, {"code": 368, "message": "Temporarily blocked for policy violations"}, ErrorKind.PERMANENT),
        (400, {"code": 4, "error_subcode": 2207051, "message": "suspected spam"}, ErrorKind.PERMANENT),
        (400, {"code": 100, "message": "(#100) Invalid parameter"}, ErrorKind.INVALID_CONTENT),
        (400, {"code": 9004, "error_subcode": 2207052, "message": "Media download failed"}, ErrorKind.INVALID_CONTENT),
        (400, {"code": 36000, "error_subcode": 2207004, "message": "image too large"}, ErrorKind.INVALID_CONTENT),
        (400, {"code": 506, "message": "Duplicate Post"}, ErrorKind.DUPLICATE),
        (400, {"code": -2, "error_subcode": 2207020, "message": "expired"}, ErrorKind.PERMANENT),
        (400, {"code": 9007, "error_subcode": 2207027, "message": "not ready"}, ErrorKind.TRANSIENT),
        (400, {"code": 1, "message": "An unknown error occurred", "is_transient": True}, ErrorKind.TRANSIENT),
        (500, {"code": 2, "message": "Service temporarily unavailable"}, ErrorKind.TRANSIENT),
        (403, {"code": 10, "message": "(#10) Application does not have permission"}, ErrorKind.PERMANENT),
    ],
)
def test_graph_codes_map_to_error_kinds(status, error, kind):
    classified = provider().classify(graph_response(status, error))

    assert isinstance(classified, GraphError)
    assert classified.kind is kind
    assert classified.code == error["code"]
    assert classified.maybe_sent is False


def test_retry_after_comes_from_the_business_use_case_header_in_minutes():
    usage = {"1784": [{"type": "instagram", "call_count": 100, "estimated_time_to_regain_access": 7}]}
    response = graph_response(
        400, {"code": 80002, "message": "slow down"}, {"X-Business-Use-Case-Usage": json.dumps(usage)}
    )

    classified = provider().classify(response)

    assert classified.kind is ErrorKind.RATE_LIMITED
    assert classified.retry_after == 420.0


def test_the_largest_regain_time_across_business_objects_wins():
    usage = {
        "1": [{"estimated_time_to_regain_access": 0}],
        "2": [{"estimated_time_to_regain_access": 3}, {"estimated_time_to_regain_access": 1}],
    }
    response = graph_response(400, {"code": 4, "message": "x"}, {"X-Business-Use-Case-Usage": json.dumps(usage)})

    assert provider().classify(response).retry_after == 180.0


def test_a_rate_limit_without_usage_header_has_no_retry_after():
    assert provider().classify(graph_response(400, {"code": 17, "message": "x"})).retry_after is None


def test_the_message_is_the_user_message_with_codes_and_never_the_token():
    response = graph_response(
        400,
        {
            "code": 190,
            "error_subcode": 463,
            "message": f"Error validating access token {TOKEN}",
            "error_user_msg": f"Your session {TOKEN} expired. Log in again.",
        },
    )

    message = provider().classify(response).message

    assert message == "Instagram answered 400: Your session [redacted] expired. Log in again. (code 190, subcode 463)"
    assert TOKEN not in message


def test_a_non_graph_answer_falls_back_to_the_http_status():
    response = requests.Response()
    response.status_code = 502
    response._content = b"<html>Bad gateway</html>"
    response.reason = "Bad Gateway"

    classified = provider().classify(response)

    assert classified.kind is ErrorKind.TRANSIENT
    assert not isinstance(classified, GraphError)


def test_a_token_endpoint_failure_carries_no_chained_exception_with_the_secret_url():
    # Port 9 is closed: requests' ConnectionError would quote the URL with client_secret and token.
    instagram = InstagramProvider(ProviderConfig(api_base="http://127.0.0.1:9", client_id="c", client_secret="s3cr3t"))

    with pytest.raises(ProviderError) as caught:
        instagram.refresh_credentials(Credentials(access_token=TOKEN, account_id="1"))

    assert caught.value.kind is ErrorKind.TRANSIENT
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__ is True
    assert TOKEN not in caught.value.message
