"""7: per-cluster values. C clusters in R regions, one application that reads each cluster's
region values: in its rendered output (`substitute: true`: one render of the directory, one
substitution per region) or in its Helm values (`helm`: one Helm render per region). A commit
that changes the application makes one bundle per region and converges the fleet; an edit of one
region's values in fleet.yaml makes one bundle and reconciles only that region's clusters."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

from bench.rig import Rig, RigOptions, writes
from fleetsync.scheduler.watcher import BEAT_SECONDS as WATCHER_BEAT
from fleetsync.shared.desired import desired_for_pairs
from fleetsync.shared.model.ids import AppName, ClusterName

APP = AppName("web")


def _manifest(value: str) -> str:
    return (
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: web}\n"
        f'data: {{value: "{value}", region: "${{cluster.values.region.name}}", '
        'domain: "web.${cluster.values.region.domain}"}\n'
    )


def _region(index: int, regions: int) -> str:
    return f"r{index % regions:02d}"


CHART = "apiVersion: v2\nname: web\nversion: 0.1.0\n"
TEMPLATE = (
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: web\ndata:\n"
    "  value: {{ .Values.value | quote }}\n  region: {{ .Values.region | quote }}\n"
    "  domain: {{ .Values.domain | quote }}\n"
)
HELM_APP = (
    "  - {name: web, repository: fleet, path: apps/web, namespace: default, renderer: helm,"
    " helm: {values: {region: '${cluster.values.region.name}',"
    " domain: 'web.${cluster.values.region.domain}'}},"
    " targets: {selector: {matchLabels: {fleet: bench}}}, sync: {driftInterval: 1h}}"
)


def _write_fleet(rig: Rig, regions: int, domains: dict[str, str], *, how: str) -> None:
    lines = [
        "repositories:",
        f'  - {{name: fleet, url: "{rig.git.git_url("fleet")}", interval: 3600s}}',
        "clusters:",
    ]
    for i, c in enumerate(rig.clusters):
        region = _region(i, regions)
        lines.append(
            f"  - {{name: {c}, kubeconfig: {rig.kubeconfigs / (c + '.kubeconfig')}, "
            f"labels: {{fleet: bench, region: {region}}}, "
            f"values: {{region: {{name: {region}, domain: {domains[region]}}}}}}}"
        )
    lines.append("applications:")
    if how == "helm":
        lines.append(HELM_APP)
    else:
        lines.append(
            "  - {name: web, repository: fleet, path: apps/web, namespace: default,"
            " substitute: true, targets: {selector: {matchLabels: {fleet: bench}}},"
            " sync: {driftInterval: 1h}}"
        )
    rig.fleet_file.write_text("\n".join(lines) + "\n")
    st = rig.fleet_file.stat()
    os.utime(rig.fleet_file, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def _converged(rig: Rig, clusters: list[str], check: Any) -> dict[str, float]:
    """Clusters Synced at the bundle fleetsync wants for them, where `check(desired)` holds."""
    wanted = desired_for_pairs(rig.store, APP, [ClusterName(c) for c in clusters])
    done = {}
    for c in clusters:
        want = wanted[ClusterName(c)]
        status = rig.store.status(APP, c)
        if (
            want is not None
            and check(want)
            and status is not None
            and status.digest == want.digest
            and status.sync.value == "Synced"
        ):
            done[c] = status.at
    return done


def _wait(rig: Rig, clusters: list[str], check: Any, timeout: float) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        done = _converged(rig, clusters, check)
        if len(done) == len(clusters) or time.monotonic() > deadline:
            return done
        time.sleep(0.2)


def _counters(stats: dict[str, int]) -> dict[str, int]:
    return {
        "renders": stats.get("render", 0),
        "render_cache_hits": stats.get("render_cache_hit", 0),
        "substitutions": stats.get("variant_render", 0),
        "substitution_cache_hits": stats.get("variant_cache_hit", 0),
        "reconciles": sum(
            v
            for k, v in stats.items()
            if k.startswith("reconcile_") and not k.startswith("reconcile_ms")
        ),
    }


def _delta(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    a, b = _counters(after), _counters(before)
    return {k: a[k] - b[k] for k in a}


def _write_app(repo: Any, how: str, value: str) -> None:
    """The application's files: plain manifests reading cluster variables, or a chart whose
    values the fleet gives (the commit's value in the chart's values.yaml)."""
    if how == "helm":
        repo.write("apps/web/Chart.yaml", CHART)
        repo.write("apps/web/values.yaml", f"value: '{value}'\n")
        repo.write("apps/web/templates/cm.yaml", TEMPLATE)
    else:
        repo.write("apps/web/app.yaml", _manifest(value))


def variants(
    work: Path, clusters: int, regions: int, timeout: float, *, how: str = "substitute"
) -> dict[str, Any]:
    with Rig(work, RigOptions(clusters=clusters)) as rig:
        domains = {
            _region(i, regions): f"{_region(i, regions)}.example.com" for i in range(regions)
        }
        repo = rig.repo("fleet")
        _write_app(repo, how, "0")
        first = repo.commit("web")
        _write_fleet(rig, regions, domains, how=how)
        every = list(rig.clusters)
        if len(_wait(rig, every, lambda d: d.revision.sha == first, timeout)) < len(every):
            return {"failed": "the first rollout did not converge"}
        # Before the counters are read: the last status writes land, and the watch process opens
        # its watches and has each newly watched cluster's pairs drift-checked (a beat apart).
        rig.wait_kube_quiet(quiet=WATCHER_BEAT + 2.0)

        before = rig.store.stats()
        rig.kube_counts(reset=True)
        _write_app(repo, how, "1")
        sha = repo.commit("value 1")
        started = time.time()
        rig.refresh("fleet")
        done = _wait(rig, every, lambda d: d.revision.sha == sha, timeout)
        time.sleep(2)
        commit = {
            **_delta(before, rig.store.stats()),
            "bundles": len(
                {d.digest for d in desired_for_pairs(rig.store, APP, every).values() if d}  # type: ignore[arg-type]
            ),
            "kube_writes": writes(rig.kube_counts()),
            "converged": len(done),
            "converge_seconds": round(max(done.values()) - started, 3) if done else None,
        }

        changed = _region(0, regions)
        region = [c for i, c in enumerate(every) if _region(i, regions) == changed]
        old = {c: d.digest for c, d in desired_for_pairs(rig.store, APP, region).items() if d}  # type: ignore[arg-type]
        before = rig.store.stats()
        rig.kube_counts(reset=True)
        started = time.time()
        _write_fleet(rig, regions, {**domains, changed: f"{changed}.example.net"}, how=how)
        done = _wait(rig, region, lambda d: d.digest not in old.values(), timeout)
        time.sleep(2)
        values_edit = {
            **_delta(before, rig.store.stats()),
            "region_clusters": len(region),
            "kube_writes": writes(rig.kube_counts()),
            "converged": len(done),
            "converge_seconds": round(max(done.values()) - started, 3) if done else None,
        }
        return {
            "how": how,
            "clusters": clusters,
            "regions": regions,
            "commit": commit,
            "values_edit": values_edit,
        }
