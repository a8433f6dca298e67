"""Example applications shipped with fleetsync: what `fleetsync demo` deploys and what
`deploy/examples/fleet.yaml` declares (plain YAML, a kustomize overlay, a Helm chart)."""

from pathlib import Path

APPS = Path(__file__).parent / "apps"
