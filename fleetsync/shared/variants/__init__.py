"""Per-cluster variants of an application: the cluster variables substituted into what it
renders (`substitution`) and the overrides a cluster's selector picks. Pure functions over
values, tested as tables; the source side (shared/source.py) groups clusters by what they
resolve to and renders once per group."""
