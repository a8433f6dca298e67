"""Micro-benchmark: render a generated 1,000-object plain bundle and print the time it takes.

    .venv/bin/python bench/render_bench.py [--objects 1000] [--per-file 10] [--runs 5]

The objects are Deployments, Services and ConfigMaps of realistic size, written as multi-document
YAML files in nested directories; the time covers the whole `render_bundle` call (walk, read,
parse, checks, namespace defaulting, bundle sort) and computing the bundle's digest.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from fleetsync.shared.model.declaration import RendererKind
from fleetsync.shared.render import RenderRequest, render_bundle

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


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--objects", type=int, default=1000)
    parser.add_argument("--per-file", type=int, default=10)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
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
