"""Chart archives are unpacked with every entry checked: nothing escapes, nothing but files and
directories, nothing over its bounds."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Callable
from pathlib import Path

import pytest

from fleetsync.shared.charts.archive import ArchiveError, ArchiveLimits, extract_chart

CHART_YAML = b"apiVersion: v2\nname: web\nversion: 1.0.0\n"


def _archive(path: Path, *entries: tarfile.TarInfo | tuple[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for entry in entries:
            if isinstance(entry, tarfile.TarInfo):
                tar.addfile(entry)
            else:
                name, data = entry
                info = tarfile.TarInfo(name)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return path


def _link(name: str, target: str, kind: bytes) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = target
    return info


def test_a_chart_unpacks_under_its_name(tmp_path: Path) -> None:
    archive = _archive(
        tmp_path / "web.tgz",
        ("web-1.0.0/Chart.yaml", CHART_YAML),
        ("web-1.0.0/templates/cm.yaml", b"kind: ConfigMap\n"),
    )
    root = extract_chart(archive, tmp_path / "out", name="web", shown="web 1.0.0")
    assert root == tmp_path / "out" / "web"
    assert (root / "Chart.yaml").read_bytes() == CHART_YAML
    assert (root / "templates" / "cm.yaml").is_file()


@pytest.mark.parametrize(
    ("entry", "problem"),
    [
        (("web/../../evil.yaml", b"x"), "leaves its directory"),
        (("/etc/evil.yaml", b"x"), "absolute path"),
        (("other/evil.yaml", b"x"), "outside the chart's directory"),
        (_link("web/templates/link.yaml", "/etc/passwd", tarfile.SYMTYPE), "is a symlink"),
        (_link("web/templates/hard.yaml", "web/Chart.yaml", tarfile.LNKTYPE), "is a hard link"),
        (_link("web/fifo", "", tarfile.FIFOTYPE), "not a file or directory"),
        (("web/Chart.yaml", b"again"), "appears twice"),
    ],
)
def test_an_archive_with_an_unsafe_entry_is_refused_and_nothing_escapes(
    tmp_path: Path, entry: tarfile.TarInfo | tuple[str, bytes], problem: str
) -> None:
    archive = _archive(tmp_path / "bad.tgz", ("web/Chart.yaml", CHART_YAML), entry)
    out = tmp_path / "deep" / "out"
    with pytest.raises(ArchiveError) as caught:
        extract_chart(archive, out, name="web", shown="https://charts.example/web-1.0.0.tgz")
    assert problem in str(caught.value)
    assert str(caught.value).startswith("https://charts.example/web-1.0.0.tgz: ")
    assert not (tmp_path / "evil.yaml").exists() and not (tmp_path / "deep" / "evil.yaml").exists()


@pytest.mark.parametrize(
    ("make", "limits", "problem"),
    [
        (
            lambda: [("web/big.bin", b"\0" * 300_000)],
            ArchiveLimits(max_bytes=200_000),
            "unpacks to more than 200000 bytes",
        ),
        (
            lambda: [(f"web/f{i}.yaml", b"a: 1\n") for i in range(20)],
            ArchiveLimits(max_files=10),
            "more than 10 files",
        ),
    ],
)
def test_an_archive_over_its_bounds_is_refused(
    tmp_path: Path,
    make: Callable[[], list[tuple[str, bytes]]],
    limits: ArchiveLimits,
    problem: str,
) -> None:
    archive = _archive(tmp_path / "big.tgz", ("web/Chart.yaml", CHART_YAML), *make())
    with pytest.raises(ArchiveError) as caught:
        extract_chart(archive, tmp_path / "out", name="web", shown="web 1.0.0", limits=limits)
    assert problem in str(caught.value)


def test_something_that_is_not_a_gzipped_tar_is_refused(tmp_path: Path) -> None:
    archive = tmp_path / "web.tgz"
    archive.write_bytes(b"<html>not found</html>")
    with pytest.raises(ArchiveError) as caught:
        extract_chart(archive, tmp_path / "out", name="web", shown="web 1.0.0")
    assert "not a chart archive" in str(caught.value)


def test_an_archive_without_chart_yaml_is_not_a_chart(tmp_path: Path) -> None:
    archive = _archive(tmp_path / "web.tgz", ("web/values.yaml", b"a: 1\n"))
    with pytest.raises(ArchiveError) as caught:
        extract_chart(archive, tmp_path / "out", name="web", shown="web 1.0.0")
    assert "no Chart.yaml" in str(caught.value)
