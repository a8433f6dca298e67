"""The fleet declaration: fleet.yaml in, a validated `Fleet` out, problems named by line and key.

The scheduler loads fleet.yaml at start and again when it changes (`fleet_digest` tells), then
publishes the last good declaration; `fleetsync validate` runs the same checks offline. Parsing
composes the YAML node tree, whose nodes keep their line marks, and walks it against the schema,
collecting every issue instead of stopping at the first. Relative paths (local repositories,
kubeconfigs, SSH keys) are resolved against the fleet file's directory, so a `Fleet` holds absolute
paths. Credentials are references (environment variable names, a key file); no error echoes their
values, and a URL that carries a password is refused.

The package, by what each module reads:

- loading: the file and its bounds, into a node tree, walked into a `FleetReport`
- document: the whole file (its sections in order, the whole-fleet checks and warnings)
- repositories, clusters, applications, windows, notifications: the top-level sections
- helm, renderers, selectors, rollouts, dependencies, variants: the parts of an entry
- walk: the shapes every section is made of; nodes: the composed YAML tree
- issues: issues, errors and the report; durations; digest (the published form)
"""

from fleetsync.shared.fleet.digest import PublishedFleet, fleet_digest, publish_form
from fleetsync.shared.fleet.durations import MAX_DURATION_SECONDS, format_duration
from fleetsync.shared.fleet.issues import FleetError, FleetFileError, FleetIssue, FleetReport
from fleetsync.shared.fleet.loading import (
    MAX_FLEET_ALIAS_EXPANSION,
    MAX_FLEET_BYTES,
    MAX_FLEET_NESTING,
    check_fleet,
    load_fleet,
    parse_fleet,
)
from fleetsync.shared.urls import display_url

__all__ = [
    "MAX_DURATION_SECONDS",
    "MAX_FLEET_ALIAS_EXPANSION",
    "MAX_FLEET_BYTES",
    "MAX_FLEET_NESTING",
    "FleetError",
    "FleetFileError",
    "FleetIssue",
    "FleetReport",
    "PublishedFleet",
    "check_fleet",
    "display_url",
    "fleet_digest",
    "format_duration",
    "load_fleet",
    "parse_fleet",
    "publish_form",
]
