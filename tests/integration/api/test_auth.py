"""Who may call what, as a table over the access policy (pure; the HTTP side is tested in
test_applications)."""

from __future__ import annotations

import pytest

from fleetsync.scheduler.api.auth import Access, AccessPolicy, TokenError, check_access

TOKEN = "t0ken-0123456789abcdef"
READ_TOKEN = "read-0123456789abcdef"
WITH_TOKEN = AccessPolicy(token=TOKEN)
NO_TOKEN = AccessPolicy()
INSECURE = AccessPolicy(insecure=True)
WITH_READ_TOKEN = AccessPolicy(token=TOKEN, read_token=READ_TOKEN, read_token_required=True)
READS_GUARDED = AccessPolicy(token=TOKEN, read_token_required=True)
READS_GUARDED_NO_TOKEN = AccessPolicy(read_token_required=True, insecure=True)


@pytest.mark.parametrize(
    ("policy", "access", "presented", "status"),
    [
        (WITH_TOKEN, Access.READ, None, None),
        (WITH_TOKEN, Access.WRITE, TOKEN, None),
        (WITH_TOKEN, Access.WRITE, None, 401),
        (WITH_TOKEN, Access.WRITE, TOKEN[:-1], 401),
        (WITH_TOKEN, Access.WRITE, TOKEN + "X", 401),
        (WITH_READ_TOKEN, Access.READ, READ_TOKEN, None),
        (WITH_READ_TOKEN, Access.WRITE, READ_TOKEN, 403),
        (WITH_READ_TOKEN, Access.WRITE, TOKEN, None),
        (WITH_READ_TOKEN, Access.WRITE, None, 401),
        (AccessPolicy(read_token=READ_TOKEN, read_token_required=True), Access.READ, None, 401),
        (AccessPolicy(read_token=READ_TOKEN), Access.WRITE, READ_TOKEN, 403),
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


@pytest.mark.parametrize(
    "token",
    ["REPLACE_ME", "replace-me", "changeme", "<token>", "xxxxxxxxxxxxxxxxxxxx", "s3cr3t-t0k3n"],
)
def test_a_placeholder_or_short_token_is_refused_when_the_policy_is_built(token: str) -> None:
    for variable in ("FLEETSYNC_API_TOKEN", "FLEETSYNC_API_READ_TOKEN"):
        with pytest.raises(TokenError) as refused:
            AccessPolicy.from_env({variable: token})
        assert variable in str(refused.value) and token not in str(refused.value)


def test_a_read_only_token_is_refused_changes_with_a_message_naming_the_write_token() -> None:
    refusal = check_access(WITH_READ_TOKEN, Access.WRITE, READ_TOKEN)
    assert refusal is not None and refusal.status == 403
    assert "FLEETSYNC_API_TOKEN" in refusal.message and READ_TOKEN not in refusal.message
