"""The API bounds request bodies: 1 MiB by default, refused with 413 and a clear message
whether Content-Length announces the size or the body streams without one; nothing of it is
echoed back."""

from __future__ import annotations

from collections.abc import Iterator

from tests.integration.api.conftest import RunningApi, bearer

LIMIT = 1024 * 1024


def test_a_body_over_one_mib_is_refused_with_413_and_not_echoed(api: RunningApi) -> None:
    body = b'{"cluster": "' + b"x" * (2 * LIMIT) + b'"}'
    answer = api.http.post(
        "/api/v1/applications/guestbook/sync",
        content=body,
        headers={**bearer(), "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert answer.json() == {
        "detail": f"request body of {len(body)} bytes is over the API's limit of {LIMIT} bytes "
        "(FLEETSYNC_API_MAX_BODY_BYTES); send less"
    }
    assert len(answer.content) < 300
    assert api.queued("apply") == []


def test_a_streamed_body_without_length_is_cut_off_at_the_bound(api: RunningApi) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"cluster": "'
        for _ in range(40):
            yield b"y" * 65536
        yield b'"}'

    answer = api.http.post(
        "/api/v1/applications/guestbook/sync",
        content=chunks(),
        headers={**bearer(), "Content-Type": "application/json"},
    )
    assert answer.status_code == 413
    assert "over the API's limit of 1048576 bytes" in answer.json()["detail"]
    assert api.queued("apply") == []


def test_a_body_under_the_bound_is_served(api: RunningApi) -> None:
    answer = api.http.post(
        "/api/v1/applications/guestbook/sync",
        json={"cluster": "c1", "note": "z" * 1000},
        headers=bearer(),
    )
    assert answer.status_code in (202, 422), answer.text
    ok = api.http.post(
        "/api/v1/applications/guestbook/sync", json={"cluster": "c1"}, headers=bearer()
    )
    assert ok.status_code == 202, ok.text
