"""`applications[].dependsOn`: each dependency declared, no cycle."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from fleetsync.shared.fleet.nodes import At
from fleetsync.shared.fleet.walk import Walker, undeclared
from fleetsync.shared.model.declaration import Fleet
from fleetsync.shared.model.ids import AppName


class DependencyReader(Walker):
    """Reads `dependsOn` and checks the dependencies of the whole fleet."""

    def depends_on(self, at: At, name: str | None) -> tuple[AppName, ...]:
        found: list[AppName] = []
        for item in self.sequence(at):
            dep = self.string(item)
            if dep is None:
                continue
            if dep == name:
                self.error(item, f"application '{dep}' cannot depend on itself")
            elif dep not in found:
                found.append(AppName(dep))
                self.seen[("applications.dependsOn", f"{name}/{dep}")] = item
        return tuple(found)

    def check_dependencies(self, fleet: Fleet) -> None:
        """Every dependency is declared; no cycle; a warning where one does not target a
        cluster its dependent does (it is not waited for there)."""
        apps = fleet.applications
        for name, app in apps.items():
            for dep in app.depends_on:
                at = self.seen[("applications.dependsOn", f"{name}/{dep}")]
                if dep not in apps:
                    declared = sorted(apps)
                    self.error(at, undeclared("application", "applications", dep, declared))
                    continue
                missing = sorted(set(fleet.targets_of(name)) - set(fleet.targets_of(dep)))
                if missing:
                    shown = ", ".join(missing[:5]) + (" ..." if len(missing) > 5 else "")
                    self.warn(
                        at,
                        f"'{dep}' does not target {shown}: '{name}' does not wait for it there",
                    )
        cycle = _cycle({n: [d for d in a.depends_on if d in apps] for n, a in apps.items()})
        if cycle:
            at = self.seen[("applications.dependsOn", f"{cycle[0]}/{cycle[1]}")]
            self.error(at, f"dependsOn forms a cycle: {' -> '.join(cycle)}; remove one of them")


def _cycle(edges: Mapping[str, Sequence[str]]) -> list[str]:
    """A dependency cycle as its names, first repeated at the end (`a -> b -> a`); [] when
    there is none."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str]:
        state[node] = 1
        stack.append(node)
        for nxt in edges.get(node, ()):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt) :], nxt]
            if nxt not in state:
                found = visit(nxt)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return []

    for node in sorted(edges):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return []
