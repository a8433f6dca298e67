"""Typed identifiers: names from the fleet declaration and content digests."""

from typing import NewType

RepoName = NewType("RepoName", str)
ClusterName = NewType("ClusterName", str)
AppName = NewType("AppName", str)
Digest = NewType("Digest", str)
"""Hex sha256 of a bundle's canonical form."""
