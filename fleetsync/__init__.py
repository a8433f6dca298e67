"""fleetsync: pull-based GitOps for fleets of Kubernetes clusters, as a Celery pipeline."""

__version__ = "0.1.0"
