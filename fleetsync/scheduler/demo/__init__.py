"""`fleetsync demo`: the whole system on embedded defaults, for a newcomer.

A local Git repository with the example applications, kubesim serving simulated clusters in
groups, a fleet.yaml, the processes of `fleetsync up`, a live view of the fleet converging, then a
commit rolling out everywhere.
"""
