"""Example applications shipped with fleetsync: what `fleetsync demo` deploys and what
`deploy/examples/fleet.yaml` declares (plain YAML, a kustomize overlay, a Helm chart), and the
chart the demo serves from a chart repository of its own."""

from pathlib import Path

APPS = Path(__file__).parent / "apps"

CHARTS = Path(__file__).parent / "charts"
"""Charts the demo packages and serves from its own chart repository (index.yaml over HTTP)."""
