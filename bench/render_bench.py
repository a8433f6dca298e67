"""Micro-benchmark: render a generated 1,000-object plain bundle and print the time it takes;
with --isolation, what a render process costs a Helm or kustomize render.

    .venv/bin/python bench/render_bench.py [--objects 1000] [--per-file 10] [--runs 5]
    .venv/bin/python bench/render_bench.py --isolation [--runs 10]

The objects are Deployments, Services and ConfigMaps of realistic size, written as multi-document
YAML files in nested directories; the time covers the whole `render_bundle` call (walk, read,
parse, checks, namespace defaulting, bundle sort) and computing the bundle's digest.

--isolation renders a 3-object and a 300-object Helm chart and a 3-object kustomization both in
this process (`render_bundle`, Helm already loaded: the in-process cost of a render) and as the
fetch worker does (`render_isolated`: a fresh render process per render, its start, the request
and answer as JSON, and its scratch area included), and prints the medians and the difference.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleetsync.shared.model.declaration import RendererKind
from fleetsync.shared.render import (
    RenderLimits,
    RenderRequest,
    RenderResult,
    render_bundle,
    render_isolated,
)

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web-{i}
  labels: {{app: web-{i}, tier: frontend}}
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web-{i}}}
  template:
    metadata:
      labels: {{app: web-{i}}}
    spec:
      containers:
        - name: web
          image: registry.example.com/web:1.{i}
          ports: [{{containerPort: 8080}}]
          env:
            - {{name: MODE, value: production}}
            - {{name: INDEX, value: "{i}"}}
          resources:
            requests: {{cpu: 100m, memory: 128Mi}}
            limits: {{memory: 256Mi}}
"""
SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web-{i}
spec:
  selector: {{app: web-{i}}}
  ports: [{{port: 80, targetPort: 8080}}]
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata:
  name: settings-{i}
data:
  color: blue
  feature.flags: "a,b,c"
  index: "{i}"
"""
KINDS = (DEPLOYMENT, SERVICE, CONFIGMAP)


def generate(root: Path, *, objects: int, per_file: int) -> None:
    for start in range(0, objects, per_file):
        directory = root / "apps" / "bench" / f"group-{start // (per_file * 10)}"
        directory.mkdir(parents=True, exist_ok=True)
        docs = [
            KINDS[i % len(KINDS)].format(i=i) for i in range(start, min(objects, start + per_file))
        ]
        (directory / f"part-{start:05d}.yaml").write_text("---\n".join(docs))


def chart(root: Path, name: str, count: int) -> str:
    """A chart of `count` ConfigMaps of about 1 KB each at `name`; returns its path."""
    directory = root / name
    (directory / "templates").mkdir(parents=True)
    (directory / "Chart.yaml").write_text(f"apiVersion: v2\nname: {name}\nversion: 0.1.0\n")
    (directory / "values.yaml").write_text("color: blue\n")
    (directory / "templates" / "configmaps.yaml").write_text(
        f"{{{{- range $i := until {count} }}}}\n---\n"
        + CONFIGMAP.replace("settings-{i}", "{{ $.Release.Name }}-{{ $i }}").replace(
            "color: blue", 'color: {{ $.Values.color }}\n  payload: {{ repeat 900 "x" | quote }}'
        )
        + "{{- end }}\n"
    )
    return name


def kustomization(root: Path, name: str) -> str:
    directory = root / name
    directory.mkdir(parents=True)
    (directory / "kustomization.yaml").write_text("namePrefix: k-\nresources: [all.yaml]\n")
    (directory / "all.yaml").write_text("---\n".join(k.format(i=0) for k in KINDS))
    return name


def isolation(runs: int) -> int:
    """Per-render cost of a render process: in-process vs isolated, for Helm and kustomize."""
    with tempfile.TemporaryDirectory(prefix="fleetsync-render-bench-") as temporary:
        root = Path(temporary) / "checkout"
        cases = [
            ("helm chart, 3 objects", chart(root, "small", 3), 3),
            ("helm chart, 300 objects (330 KB)", chart(root, "large", 300), 300),
            ("kustomize, 3 objects", kustomization(root, "kustomized"), 3),
        ]
        limits = RenderLimits()
        scratch = Path(temporary) / "scratch"
        print(
            "| render | in-process: wall, CPU | render process: wall, CPU |"
            " overhead per render: wall, CPU |"
        )
        print("| --- | --- | --- | --- |")
        for label, path, count in cases:
            request = RenderRequest(root=root, path=path, app="bench", namespace="bench")
            render_bundle(request)  # loads Helm and warms the caches: not part of a render
            here = _times(lambda r=request: render_bundle(r), runs, count)  # type: ignore[misc]
            isolated = _times(
                lambda r=request: render_isolated(r, limits=limits, scratch_dir=scratch),  # type: ignore[misc]
                runs,
                count,
            )
            print(
                f"| {label} | {here.wall:.0f} ms, {here.cpu:.0f} ms"
                f" | {isolated.wall:.0f} ms, {isolated.cpu:.0f} ms"
                f" | {isolated.wall - here.wall:+.0f} ms, {isolated.cpu - here.cpu:+.0f} ms |"
            )
    print(f"({runs} runs each: wall-clock medians, CPU means of this process and its children)")
    return 0


@dataclass(frozen=True)
class Cost:
    wall: float
    """Milliseconds, median."""
    cpu: float
    """Milliseconds of CPU (user and system, this process and its children), mean."""


def _times(render: Callable[[], RenderResult], runs: int, count: int) -> Cost:
    times = []
    cpu_before = _cpu()
    for _ in range(runs):
        started = time.perf_counter()
        result = render()
        times.append(time.perf_counter() - started)
        if len(result.bundle.objects) != count:
            raise SystemExit(f"rendered {len(result.bundle.objects)} objects, expected {count}")
    return Cost(wall=statistics.median(times) * 1000, cpu=(_cpu() - cpu_before) / runs * 1000)


def _cpu() -> float:
    total = 0.0
    for who in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        usage = resource.getrusage(who)
        total += usage.ru_utime + usage.ru_stime
    return total


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--per-file", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--isolation", action="store_true", help="Helm and kustomize: in-process vs isolated"
    )
    args = parser.parse_args()
    if args.isolation:
        return isolation(args.runs)
    with tempfile.TemporaryDirectory(prefix="fleetsync-render-bench-") as temporary:
        root = Path(temporary)
        generate(root, objects=args.objects, per_file=args.per_file)
        request = RenderRequest(
            root=root, path="apps/bench", app="bench", renderer=RendererKind.PLAIN, namespace="web"
        )
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            result = render_bundle(request)
            digest = result.bundle.digest
            times.append(time.perf_counter() - started)
    count = len(result.bundle.objects)
    if count != args.objects:
        print(f"rendered {count} objects, expected {args.objects}", file=sys.stderr)
        return 1
    print(
        f"plain render of {count} objects in {args.objects // args.per_file} files:"
        f" median {statistics.median(times) * 1000:.0f} ms,"
        f" best {min(times) * 1000:.0f} ms over {args.runs} runs (digest {digest[:12]})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
