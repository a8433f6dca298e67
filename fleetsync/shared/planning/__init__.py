"""Pure rules of safe, progressive change: which clusters go in which wave of a rollout, what a
rollout does next, when a change window is open. Values in, values out: no I/O."""
