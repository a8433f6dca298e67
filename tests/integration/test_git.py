"""shared.git against real git servers (git daemon and smart HTTP): resolving refs, the errors a
poll meets, mirrors that fetch incrementally and only when needed, tree hashes and exports."""

from __future__ import annotations

import multiprocessing
import os
import socket
import stat
import tempfile
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from fleetsync.shared import git
from fleetsync.shared.errors import PermanentError, TransientError
from fleetsync.shared.model.declaration import Credentials, Repository
from fleetsync.shared.model.ids import RepoName
from tests.support.git_server import GitServer, WorkRepo, run_git
from tests.support.redis_server import free_port

Protocol = Callable[[GitServer, str], str]
PROTOCOLS: dict[str, Protocol] = {"git": GitServer.git_url, "http": GitServer.http_url}


def _repo(url: str, *, ref: str = "main", credentials: Credentials | None = None) -> Repository:
    return Repository(name=RepoName("platform"), url=url, ref=ref, credentials=credentials)


def _seeded(work: WorkRepo) -> str:
    work.write("apps/web/deploy.yaml", "kind: Deployment\n")
    work.write("apps/db/sts.yaml", "kind: StatefulSet\n")
    return work.commit("seed")


def _object_files(mirror: Path) -> set[Path]:
    return {p for p in (mirror / "objects").rglob("*") if p.is_file() and "info" not in p.parts}


def _fetches(server: GitServer, name: str) -> int:
    """git processes that reached the server for this repository (one ref advertisement each)."""
    return sum(1 for r in server.requests_for(name) if r.path.endswith("/info/refs"))


# -- resolving refs


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_branch_resolves_to_its_head_commit(
    git_server: GitServer, git_repo: WorkRepo, protocol: str
) -> None:
    sha = _seeded(git_repo)
    url = PROTOCOLS[protocol](git_server, git_repo.name)

    assert str(git.resolve_revision(_repo(url))) == f"main@sha1:{sha}"
    assert git.resolve_revision(_repo(url, ref="refs/heads/main")).sha == sha


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_tags_resolve_to_the_commit_they_point_at(
    git_server: GitServer, git_repo: WorkRepo, protocol: str
) -> None:
    first = _seeded(git_repo)
    git_repo.tag("v1", annotated=True)
    git_repo.tag("v1-light", annotated=False)
    git_repo.write("apps/web/deploy.yaml", "kind: Deployment\nv: 2\n")
    git_repo.commit("later")
    url = PROTOCOLS[protocol](git_server, git_repo.name)
    tag_object = run_git("rev-parse", "refs/tags/v1", cwd=git_repo.path)
    assert tag_object != first  # the annotated tag is an object of its own: it must be peeled

    assert git.resolve_revision(_repo(url, ref="v1")).sha == first
    assert git.resolve_revision(_repo(url, ref="refs/tags/v1")).sha == first
    assert git.resolve_revision(_repo(url, ref="v1-light")).sha == first


def test_a_full_sha_is_taken_as_is_without_network() -> None:
    sha = "0123456789abcdef0123456789abcdef01234567"
    revision = git.resolve_revision(_repo(f"git://127.0.0.1:{free_port()}/x.git", ref=sha))

    assert revision.sha == sha


def test_an_unknown_ref_is_permanent_and_lists_refs_that_exist(
    git_server: GitServer, git_repo: WorkRepo
) -> None:
    _seeded(git_repo)
    git_repo.branch("staging")
    git_repo.tag("v1")

    with pytest.raises(PermanentError) as caught:
        git.resolve_revision(_repo(git_server.http_url(git_repo.name), ref="stagin"))

    message = str(caught.value)
    assert message.startswith("platform: ref 'stagin' not found")
    assert "did you mean 'staging'?" in message
    assert "branches: main, staging; tags: v1" in message


# -- what goes wrong


def test_a_closed_port_is_transient() -> None:
    url = f"git://127.0.0.1:{free_port()}/platform.git"

    with pytest.raises(TransientError, match=r"^platform: ls-remote .*Connection refused"):
        git.resolve_revision(_repo(url))


def test_a_server_that_never_answers_times_out_as_transient() -> None:
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"git://127.0.0.1:{silent.getsockname()[1]}/platform.git"

        with pytest.raises(TransientError, match=r"^platform: ls-remote .* timed out after 1s"):
            git.resolve_revision(_repo(url), timeout=1)


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_a_missing_repository_is_permanent(git_server: GitServer, protocol: str) -> None:
    url = PROTOCOLS[protocol](git_server, "no-such-repository")

    with pytest.raises(PermanentError, match=r"^platform: repository .* not found"):
        git.resolve_revision(_repo(url))


def test_a_private_repository_resolves_with_credentials_from_the_environment(
    git_server: GitServer,
    make_git_repo: Callable[..., WorkRepo],
    git_credentials: Credentials,
) -> None:
    work = make_git_repo(private=True)
    sha = _seeded(work)
    url = git_server.http_url(work.name)

    assert git.resolve_revision(_repo(url, credentials=git_credentials)).sha == sha
    assert {r.user for r in git_server.requests_for(work.name)} >= {git_server.username}


def test_a_wrong_password_is_permanent_and_names_the_variables_never_the_values(
    git_server: GitServer,
    make_git_repo: Callable[..., WorkRepo],
    git_credentials: Credentials,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = make_git_repo(private=True)
    _seeded(work)
    assert git_credentials.password_env and git_credentials.username_env
    monkeypatch.setenv(git_credentials.password_env, "wrong-Secret-4711")

    with pytest.raises(PermanentError) as caught:
        git.resolve_revision(_repo(git_server.http_url(work.name), credentials=git_credentials))

    message = str(caught.value)
    assert message.startswith("platform: authentication to http://127.0.0.1:")
    assert git_credentials.username_env in message and git_credentials.password_env in message
    assert "wrong-Secret-4711" not in message
    assert git_server.username not in message and git_server.password not in message


def test_a_private_repository_without_credentials_says_to_declare_them(
    git_server: GitServer, make_git_repo: Callable[..., WorkRepo]
) -> None:
    work = make_git_repo(private=True)
    _seeded(work)

    with pytest.raises(PermanentError, match="needs credentials"):
        git.resolve_revision(_repo(git_server.http_url(work.name)))


def test_a_missing_environment_variable_is_named(git_server: GitServer) -> None:
    creds = Credentials(username_env="FLEETSYNC_TEST_UNSET_USER", password_env="NOPE_TOKEN")
    os.environ["FLEETSYNC_TEST_UNSET_USER"] = "someone"
    try:
        with pytest.raises(PermanentError, match=r"^platform: environment variable NOPE_TOKEN"):
            git.resolve_revision(_repo(git_server.http_url("x"), credentials=creds))
    finally:
        del os.environ["FLEETSYNC_TEST_UNSET_USER"]


def test_a_missing_ssh_key_file_is_named(tmp_path: Path) -> None:
    key = tmp_path / "id_ed25519"
    creds = Credentials(ssh_key_file=str(key))

    with pytest.raises(PermanentError, match=rf"^platform: ssh key file {key}"):
        git.resolve_revision(_repo("ssh://git@127.0.0.1:1/x.git", credentials=creds))


def test_an_ssh_key_reaches_ssh_with_identities_only_and_batch_mode(
    git_repo: WorkRepo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No sshd runs here: a stand-in `ssh` on PATH records its arguments and runs the remote
    command locally, as sshd would."""
    sha = _seeded(git_repo)
    bin_dir, argv_log, key = tmp_path / "bin", tmp_path / "ssh-argv", tmp_path / "id_ed25519"
    bin_dir.mkdir()
    key.write_text("not a real key\n")
    fake_ssh = bin_dir / "ssh"
    fake_ssh.write_text(
        f'#!/bin/sh\nprintf "%s\\n" "$@" > {argv_log}\nfor c; do :; done\nexec sh -c "$c"\n'
    )
    fake_ssh.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    url = f"ssh://git@git.example.invalid{git_repo.bare}"

    revision = git.resolve_revision(_repo(url, credentials=Credentials(ssh_key_file=str(key))))

    assert revision.sha == sha
    argv = argv_log.read_text().splitlines()
    assert argv[:2] == ["-i", str(key)]
    assert {"IdentitiesOnly=yes", "BatchMode=yes"} <= set(argv)


def test_credentials_written_into_a_url_never_reach_a_message(git_server: GitServer) -> None:
    url = git_server.http_url("no-such-repository").replace("http://", "http://bob:hunter2@")

    with pytest.raises(PermanentError) as caught:
        git.resolve_revision(_repo(url))

    assert "hunter2" not in str(caught.value) and "bob" not in str(caught.value)


# -- mirrors


@pytest.fixture
def mirror_dir(tmp_path: Path) -> Path:
    return tmp_path / "mirrors"


def test_a_mirror_is_created_once_then_fetched_into_incrementally(
    git_server: GitServer, git_repo: WorkRepo, mirror_dir: Path
) -> None:
    repo = _repo(git_server.http_url(git_repo.name))
    first = _seeded(git_repo)
    mirror = git.sync_mirror(repo, mirror_dir=mirror_dir, sha=first)
    inode = mirror.stat().st_ino
    objects = _object_files(mirror)
    assert objects and _fetches(git_server, git_repo.name) == 1

    git_repo.write("apps/web/deploy.yaml", "kind: Deployment\nreplicas: 2\n")
    second = git_repo.commit("scale web")
    assert git.sync_mirror(repo, mirror_dir=mirror_dir, sha=second) == mirror

    assert _fetches(git_server, git_repo.name) == 2
    assert mirror.stat().st_ino == inode  # the same directory: not a fresh clone
    assert objects < _object_files(mirror)  # the first fetch's objects stay, new ones join
    assert git.commit_exists(mirror, first) and git.commit_exists(mirror, second)
    assert [p.name for p in mirror_dir.iterdir() if p.is_dir()] == [mirror.name]


def test_syncing_a_known_sha_makes_no_network_call(
    git_server: GitServer, git_repo: WorkRepo, mirror_dir: Path
) -> None:
    repo = _repo(git_server.http_url(git_repo.name))
    old = _seeded(git_repo)
    git.sync_mirror(repo, mirror_dir=mirror_dir, sha=old)
    git_repo.commit("newer")
    before = len(git_server.requests_for(git_repo.name))

    git.sync_mirror(repo, mirror_dir=mirror_dir, sha=old)

    assert len(git_server.requests_for(git_repo.name)) == before


def test_a_commit_only_a_pull_request_ref_holds_is_fetched_by_its_sha(
    git_server: GitServer, git_repo: WorkRepo, mirror_dir: Path
) -> None:
    _seeded(git_repo)
    git_repo.write("apps/web/deploy.yaml", "kind: Deployment\npr: 1\n")
    run_git("commit", "--quiet", "-am", "proposal", cwd=git_repo.path)
    proposal = git_repo.head
    run_git("push", "--quiet", "origin", "HEAD:refs/pull/1/head", cwd=git_repo.path)

    mirror = git.sync_mirror(
        _repo(git_server.git_url(git_repo.name)), mirror_dir=mirror_dir, sha=proposal
    )

    assert git.commit_exists(mirror, proposal)


def test_a_commit_the_repository_does_not_have_is_permanent_and_the_mirror_stays(
    git_server: GitServer, git_repo: WorkRepo, mirror_dir: Path
) -> None:
    repo = _repo(git_server.http_url(git_repo.name))
    sha = _seeded(git_repo)
    missing = "0123456789abcdef0123456789abcdef01234567"

    with pytest.raises(PermanentError, match=r"^platform: commit 0123456789ab not found") as e:
        git.sync_mirror(repo, mirror_dir=mirror_dir, sha=missing)

    assert missing not in str(e.value)  # the short sha names it
    assert git.commit_exists(git.mirror_path(repo.url, mirror_dir=mirror_dir), sha)


def test_a_mirror_with_corrupt_objects_is_recreated(
    git_server: GitServer, git_repo: WorkRepo, mirror_dir: Path
) -> None:
    repo = _repo(git_server.http_url(git_repo.name))
    mirror = git.sync_mirror(repo, mirror_dir=mirror_dir, sha=_seeded(git_repo))
    for damaged in _object_files(mirror):
        damaged.chmod(0o644)
        damaged.write_bytes(b"garbage")  # as a full disk or a crash mid-write would leave them
    newer = git_repo.commit("newer")

    assert git.sync_mirror(repo, mirror_dir=mirror_dir, sha=newer) == mirror
    assert git.tree_hash(mirror, newer, "apps/web") is not None


def test_a_half_created_mirror_is_recreated(
    git_server: GitServer, git_repo: WorkRepo, mirror_dir: Path
) -> None:
    repo = _repo(git_server.git_url(git_repo.name))
    sha = _seeded(git_repo)
    half = git.mirror_path(repo.url, mirror_dir=mirror_dir)
    (half / "objects").mkdir(parents=True)  # as a process killed mid-init would leave it

    mirror = git.sync_mirror(repo, mirror_dir=mirror_dir, sha=sha)

    assert mirror == half and git.commit_exists(mirror, sha)


def test_concurrent_syncs_in_threads_make_one_mirror_and_one_fetch(
    git_server: GitServer, git_repo: WorkRepo, mirror_dir: Path
) -> None:
    repo = _repo(git_server.http_url(git_repo.name))
    sha = _seeded(git_repo)
    start = threading.Barrier(4)

    def sync() -> Path:
        start.wait()
        return git.sync_mirror(repo, mirror_dir=mirror_dir, sha=sha)

    with ThreadPoolExecutor(4) as pool:
        mirrors = set(pool.map(lambda _: sync(), range(4)))

    assert len(mirrors) == 1 and git.commit_exists(mirrors.pop(), sha)
    assert _fetches(git_server, git_repo.name) == 1
    assert [p.name for p in mirror_dir.iterdir() if p.is_dir()] == [
        git.mirror_path(repo.url, mirror_dir=mirror_dir).name
    ]


def _sync_in_process(url: str, mirror_dir: str, sha: str) -> str:
    return str(git.sync_mirror(_repo(url), mirror_dir=Path(mirror_dir), sha=sha))


def test_concurrent_syncs_in_processes_make_one_mirror_and_one_fetch(
    git_server: GitServer, git_repo: WorkRepo, mirror_dir: Path
) -> None:
    url = git_server.http_url(git_repo.name)
    sha = _seeded(git_repo)

    with multiprocessing.get_context("spawn").Pool(2) as pool:
        mirrors = set(pool.starmap(_sync_in_process, [(url, str(mirror_dir), sha)] * 2))

    assert len(mirrors) == 1 and git.commit_exists(Path(mirrors.pop()), sha)
    assert _fetches(git_server, git_repo.name) == 1


# -- reading a mirror


@pytest.fixture
def mirrored(git_server: GitServer, git_repo: WorkRepo, mirror_dir: Path) -> Callable[[str], Path]:
    repo = _repo(git_server.git_url(git_repo.name))
    return lambda sha: git.sync_mirror(repo, mirror_dir=mirror_dir, sha=sha)


def test_a_commit_changes_the_tree_hash_of_the_touched_path_only(
    git_repo: WorkRepo, mirrored: Callable[[str], Path]
) -> None:
    old = _seeded(git_repo)
    git_repo.write("apps/web/deploy.yaml", "kind: Deployment\nreplicas: 3\n")
    new = git_repo.commit("scale web")
    mirror = mirrored(new)
    paths = ["apps/web", "apps/db", "apps", ""]

    before, after = git.tree_hashes(mirror, old, paths), git.tree_hashes(mirror, new, paths)

    assert [p for p in paths if before[p] != after[p]] == ["apps/web", "apps", ""]
    assert git.tree_hash(mirror, new, "apps/web") == after["apps/web"]
    assert git.changed_paths(mirror, old, new) == {"apps/web/deploy.yaml"}


def test_tree_hash_of_a_missing_path_is_none_and_of_the_root_is_the_commit_tree(
    git_repo: WorkRepo, mirrored: Callable[[str], Path]
) -> None:
    sha = _seeded(git_repo)
    mirror = mirrored(sha)
    root = run_git("rev-parse", "HEAD^{tree}", cwd=git_repo.path)

    hashes = git.tree_hashes(
        mirror, sha, ["", ".", "apps/nope", "apps/web/", "apps/web/deploy.yaml"]
    )

    assert hashes[""] == hashes["."] == root
    assert hashes["apps/nope"] is None
    assert hashes["apps/web/"] == run_git("rev-parse", "HEAD:apps/web", cwd=git_repo.path)
    assert hashes["apps/web/deploy.yaml"] == run_git(
        "rev-parse", "HEAD:apps/web/deploy.yaml", cwd=git_repo.path
    )


def test_export_tree_round_trips_files_modes_and_symlinks(
    git_repo: WorkRepo, mirrored: Callable[[str], Path], tmp_path: Path
) -> None:
    git_repo.write("apps/web/deploy.yaml", "kind: Deployment\n")
    git_repo.write("hack/gen.sh", "#!/bin/sh\n")
    (git_repo.path / "hack/gen.sh").chmod(0o755)
    git_repo.symlink("apps/web/base", "../../base")
    git_repo.symlink("apps/web/outside", "/etc/passwd")
    git_repo.write("base/cm.yaml", "kind: ConfigMap\n")
    sha = git_repo.commit("files")

    out = git.export_tree(mirrored(sha), sha, tmp_path / "out")

    assert (out / "apps/web/deploy.yaml").read_text() == "kind: Deployment\n"
    assert (out / "hack/gen.sh").stat().st_mode & stat.S_IXUSR
    assert os.readlink(out / "apps/web/base") == "../../base"
    assert os.readlink(out / "apps/web/outside") == "/etc/passwd"  # kept; the renderer judges
    assert (out / "apps/web/base/cm.yaml").read_text() == "kind: ConfigMap\n"
    assert not (out / ".git").exists()


def test_exports_leave_the_mirror_untouched_and_checkouts_clean_up(
    git_repo: WorkRepo, mirrored: Callable[[str], Path], tmp_path: Path
) -> None:
    sha = _seeded(git_repo)
    mirror = mirrored(sha)
    before = sorted(p.name for p in mirror.iterdir())
    scratch = tmp_path / "scratch"

    with (
        git.checkout(mirror, sha, scratch_dir=scratch) as one,
        git.checkout(mirror, sha, scratch_dir=scratch) as two,
    ):
        assert one != two
        assert (one / "apps/db/sts.yaml").read_text() == (two / "apps/db/sts.yaml").read_text()

    assert list(scratch.iterdir()) == []
    assert sorted(p.name for p in mirror.iterdir()) == before  # no index, no work tree


def test_the_askpass_helper_is_gone_when_a_call_returns(
    git_server: GitServer,
    make_git_repo: Callable[..., WorkRepo],
    git_credentials: Credentials,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    work = make_git_repo(private=True)
    _seeded(work)
    private_tmp = tmp_path / "tmp"
    private_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(private_tmp))

    git.resolve_revision(_repo(git_server.http_url(work.name), credentials=git_credentials))

    assert list(private_tmp.iterdir()) == []
