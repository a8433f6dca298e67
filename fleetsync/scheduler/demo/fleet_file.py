"""The demo's fleet.yaml: simulated clusters in groups, applications targeting them by label."""

from __future__ import annotations

from pathlib import Path

GROUPS = (
    {"env": "prod", "region": "eu"},
    {"env": "prod", "region": "us"},
    {"env": "staging", "region": "eu"},
)


def cluster_labels(index: int) -> dict[str, str]:
    return dict(GROUPS[index % len(GROUPS)])


def write_fleet(
    path: Path,
    *,
    repository: Path,
    kubeconfigs: dict[str, Path],
    charts_url: str,
    bake: int = 20,
) -> Path:
    clusters = "\n".join(
        f"  - {{name: {name}, kubeconfig: {kubeconfig}, labels: "
        f"{{env: {cluster_labels(i)['env']}, region: {cluster_labels(i)['region']}}}, "
        f"values: {{region: {{name: {cluster_labels(i)['region']}, "
        f"domain: {cluster_labels(i)['region']}.demo.example}}}}}}"
        for i, (name, kubeconfig) in enumerate(sorted(kubeconfigs.items()))
    )
    path.write_text(f"""\
# Written by `fleetsync demo`: the example applications on simulated clusters.
repositories:
  - name: demo
    url: {repository}
    ref: main
    interval: 5s
  - name: charts               # a Helm chart repository (index.yaml) the demo serves itself
    type: helm
    url: {charts_url}
    interval: 10s
clusters:
{clusters}
applications:
  - name: guestbook            # plain YAML, on every cluster, a canary first
    repository: demo
    path: apps/guestbook
    renderer: plain
    targets: {{selector: {{}}}}
    sync: {{driftInterval: 30s}}
    rollout:
      waves: [{{name: canary, clusters: [{sorted(kubeconfigs)[0]}]}}]
      bake: {bake}s
  - name: podinfo              # a kustomize overlay, on the prod clusters, per region
    repository: demo
    path: apps/podinfo/overlays/prod
    namespace: podinfo
    targets: {{selector: {{matchLabels: {{env: prod}}}}}}
    substitute: true           # each cluster's values (regions) in what it renders
    overrides:
      - name: region
        selector: {{}}
        patches:
          - target: {{kind: Deployment, name: podinfo}}
            patch:
              metadata:
                annotations: {{demo.fleetsync.io/host: "podinfo.${{cluster.values.region.domain}}"}}
      - name: us-more-replicas
        selector: {{matchLabels: {{region: us}}}}
        patches:
          - target: {{kind: Deployment, name: podinfo}}
            patch: {{spec: {{replicas: 3}}}}
  - name: redis                # a Helm chart, in the eu region
    repository: demo
    path: apps/redis-chart
    namespace: default
    renderer: helm
    helm: {{release: redis, values: {{replicaCount: 1}}}}
    targets: {{selector: {{matchLabels: {{region: eu}}}}}}
  - name: hello                # a chart from the chart repository, on the staging clusters
    repository: charts
    chart: hello
    version: ^0.1              # the newest 0.1.x: a new one published rolls out by itself
    namespace: default
    helm: {{values: {{greeting: "Hello from fleetsync's demo"}}}}
    targets: {{selector: {{matchLabels: {{env: staging}}}}}}
""")
    return path
