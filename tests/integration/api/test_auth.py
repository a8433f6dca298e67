"""Who may call what, as a table over the access policy (pure; the HTTP side is tested in
test_applications)."""

from __future__ import annotations

import pytest

from fleetsync.scheduler.api.auth import Access, AccessPolicy, check_access

TOKEN = "t0ken"
WITH_TOKEN = AccessPolicy(token=TOKEN)
NO_TOKEN = AccessPolicy()
INSECURE = AccessPolicy(insecure=True)
READS_GUARDED = AccessPolicy(token=TOKEN, read_token_required=True)
READS_GUARDED_NO_TOKEN = AccessPolicy(read_token_required=True, insecure=True)


@pytest.mark.parametrize(
    ("policy", "access", "presented", "status"),
    [
        (WITH_TOKEN, Access.READ, None, None),
        (WITH_TOKEN, Access.WRITE, TOKEN, None),
        (WITH_TOKEN, Access.WRITE, None, 401),
        (WITH_TOKEN, Access.WRITE, "t0ke", 401),
        (WITH_TOKEN, Access.WRITE, "t0kenX", 401),
        (NO_TOKEN, Access.READ, None, None),
        (NO_TOKEN, Access.WRITE, None, 403),
        (NO_TOKEN, Access.WRITE, "anything", 403),
        (INSECURE, Access.WRITE, None, None),
        (AccessPolicy(token=TOKEN, insecure=True), Access.WRITE, None, 401),
        (READS_GUARDED, Access.READ, None, 401),
        (READS_GUARDED, Access.READ, TOKEN, None),
        (READS_GUARDED_NO_TOKEN, Access.READ, None, 403),
    ],
)
def test_access_decisions(
    policy: AccessPolicy, access: Access, presented: str | None, status: int | None
) -> None:
    refusal = check_access(policy, access, presented)
    assert (refusal.status if refusal else None) == status


def test_refusal_without_a_token_names_the_variable_and_the_token_is_never_shown() -> None:
    refusal = check_access(NO_TOKEN, Access.WRITE, None)
    assert refusal is not None and "FLEETSYNC_API_TOKEN" in refusal.message
    wrong = check_access(WITH_TOKEN, Access.WRITE, "guess")
    assert wrong is not None and TOKEN not in wrong.message and "guess" not in wrong.message
    assert TOKEN not in repr(WITH_TOKEN)


def test_policy_from_the_environment() -> None:
    policy = AccessPolicy.from_env(
        {
            "FLEETSYNC_API_TOKEN": TOKEN,
            "FLEETSYNC_API_INSECURE": "1",
            "FLEETSYNC_API_READ_TOKEN_REQUIRED": "true",
        }
    )
    assert policy == AccessPolicy(token=TOKEN, insecure=True, read_token_required=True)
    assert AccessPolicy.from_env({"FLEETSYNC_API_TOKEN": ""}) == AccessPolicy()
