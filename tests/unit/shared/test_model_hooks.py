"""Hook annotations as Argo CD reads them, fleetsync's alias, and Helm's mapped like Argo CD."""

from __future__ import annotations

from typing import Any

import pytest

from fleetsync.shared.model.hooks import DeletePolicy, HookError, HookPhase, hook_of


def annotated(**annotations: str) -> dict[str, Any]:
    return {"metadata": {"name": "x", "annotations": annotations}}


def test_an_object_without_hook_annotations_is_no_hook() -> None:
    assert hook_of({"metadata": {"name": "x"}}) is None


def test_argo_cd_phases_and_delete_policies_are_read() -> None:
    hook = hook_of(
        annotated(
            **{
                "argocd.argoproj.io/hook": "PreSync,SyncFail",
                "argocd.argoproj.io/hook-delete-policy": "HookSucceeded,HookFailed",
            }
        )
    )
    assert hook is not None
    assert hook.phases == (HookPhase.PRE_SYNC, HookPhase.SYNC_FAIL)
    assert hook.delete_policies == {DeletePolicy.HOOK_SUCCEEDED, DeletePolicy.HOOK_FAILED}


def test_before_hook_creation_is_the_default_policy_and_fleetsync_alias_works() -> None:
    hook = hook_of(annotated(**{"fleetsync.io/hook": "PostSync"}))
    assert hook is not None and hook.phases == (HookPhase.POST_SYNC,)
    assert hook.delete_policies == {DeletePolicy.BEFORE_HOOK_CREATION}


def test_an_unknown_phase_is_an_error_naming_the_value_and_the_choices() -> None:
    with pytest.raises(HookError) as caught:
        hook_of(annotated(**{"argocd.argoproj.io/hook": "PreSynk"}))
    assert str(caught.value) == (
        "annotation argocd.argoproj.io/hook: unknown hook phase 'PreSynk'; use PreSync, Sync, "
        "PostSync, SyncFail, PostDelete or Skip"
    )


def test_skip_is_never_applied() -> None:
    hook = hook_of(annotated(**{"argocd.argoproj.io/hook": "Skip"}))
    assert hook is not None and hook.never_applied


@pytest.mark.parametrize(
    ("helm", "phases"),
    [
        ("pre-install,pre-upgrade", (HookPhase.PRE_SYNC,)),
        ("post-install", (HookPhase.POST_SYNC,)),
        ("post-upgrade", (HookPhase.POST_SYNC,)),
        ("post-delete", (HookPhase.POST_DELETE,)),
    ],
)
def test_helm_hooks_map_as_argo_cd_maps_them(helm: str, phases: tuple[HookPhase, ...]) -> None:
    hook = hook_of(annotated(**{"helm.sh/hook": helm, "helm.sh/hook-weight": "-5"}))
    assert hook is not None and hook.phases == phases and hook.weight == -5


def test_helm_test_hooks_are_never_applied() -> None:
    hook = hook_of(annotated(**{"helm.sh/hook": "test"}))
    assert hook is not None and hook.never_applied
    assert hook.skipped == "Helm test hook (test): never applied"


def test_helm_delete_policies_map_to_argo_cd_ones() -> None:
    hook = hook_of(
        annotated(
            **{
                "helm.sh/hook": "pre-install",
                "helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
            }
        )
    )
    assert hook is not None
    assert hook.delete_policies == {
        DeletePolicy.BEFORE_HOOK_CREATION,
        DeletePolicy.HOOK_SUCCEEDED,
    }


def test_an_argo_cd_annotation_wins_over_helm_s() -> None:
    hook = hook_of(annotated(**{"helm.sh/hook": "test", "argocd.argoproj.io/hook": "PostSync"}))
    assert hook is not None and hook.phases == (HookPhase.POST_SYNC,)


def test_a_helm_weight_that_is_not_an_integer_is_an_error() -> None:
    with pytest.raises(HookError, match=r"helm.sh/hook-weight: 'high' is not an integer"):
        hook_of(annotated(**{"helm.sh/hook": "pre-install", "helm.sh/hook-weight": "high"}))
