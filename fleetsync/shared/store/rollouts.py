"""Progressive rollouts and the freeze, in Redis.

Per application in rollout:

- `rollout:<app>`: the rollout's state (`Rollout` as JSON; small, read by every reconcile of the
  application and every look of the beat's controller);
- `rollout:<app>:plan`: its waves (written once, when it starts);
- `rollout:<app>:previous`: hash cluster -> what the cluster ran before (`<digest> <revision>`,
  or empty when it ran nothing), written when it starts;
- `rollout:<app>:progress`: hash cluster -> `ClusterProgress` of each cluster it reached;
- `rollouts`: sorted set application -> when the controller should look at it next.

A rollout starts in one transaction (state, plan, previous, progress), so a reader never sees a
mix of two rollouts. Writers of its state compare and set on `version` (a Lua script), so the
beat's controller never undoes an operator's pause, nor a rollout a newer commit started.

`freeze`: the operator's fleet-wide deny window (`fleetsync freeze`), as JSON, until unfrozen.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, replace
from typing import overload

import redis.exceptions

from fleetsync.shared.model.ids import ClusterName
from fleetsync.shared.model.rollout import ClusterProgress, Held, Rollout, RolloutPlan
from fleetsync.shared.planning.windows import Freeze
from fleetsync.shared.store.base import StoreBase, text

_SAVE = """
local current = redis.call('GET', KEYS[1])
if not current then return 0 end
if tonumber(cjson.decode(current)['version']) ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
for i = 5, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
if ARGV[3] == '' then
  redis.call('ZREM', KEYS[3], ARGV[4])
else
  redis.call('ZADD', KEYS[3], ARGV[3], ARGV[4])
end
return 1
"""


class RolloutStore(StoreBase):
    def _rollout_key(self, app: str, *what: str) -> str:
        return self.key("rollout", app, *what)

    # Reading

    def rollout(self, app: str) -> Rollout | None:
        raw = self._r.get(self._rollout_key(app))
        return Rollout.from_json(json.loads(raw)) if raw is not None else None

    def rollouts(self, apps: Sequence[str]) -> dict[str, Rollout | None]:
        """The rollouts of many applications in one round trip."""
        if not apps:
            return {}
        raws = self._r.mget([self._rollout_key(a) for a in apps])
        return {
            a: Rollout.from_json(json.loads(raw)) if raw is not None else None
            for a, raw in zip(apps, raws, strict=True)
        }

    def rollout_plan(self, app: str) -> RolloutPlan | None:
        raw = self._r.get(self._rollout_key(app, "plan"))
        return RolloutPlan.from_json(json.loads(raw)) if raw is not None else None

    def rollout_progress(
        self, app: str, clusters: Sequence[str] | None = None
    ) -> dict[ClusterName, ClusterProgress]:
        """What each cluster the rollout reached is doing (of `clusters`, or all of them)."""
        key = self._rollout_key(app, "progress")
        found: dict[str, bytes | str | None]
        if clusters is None:
            found = {text(c): v for c, v in self._r.hgetall(key).items()}
        elif not clusters:
            return {}
        else:
            found = dict(zip(clusters, self._r.hmget(key, list(clusters)), strict=True))
        return {
            ClusterName(c): ClusterProgress.from_json(json.loads(v))
            for c, v in found.items()
            if v is not None
        }

    def rollout_previous(self, app: str, clusters: Sequence[str]) -> dict[ClusterName, Held | None]:
        """What each of `clusters` ran before the rollout (None: nothing; absent: the rollout
        does not know the cluster)."""
        if not clusters:
            return {}
        raws = self._r.hmget(self._rollout_key(app, "previous"), list(clusters))
        return {
            ClusterName(c): (Held.from_text(text(v)) if v else None)
            for c, v in zip(clusters, raws, strict=True)
            if v is not None
        }

    def rollout_hold(
        self, app: str, cluster: str
    ) -> tuple[Rollout | None, bool, Held | None, bool]:
        """(the rollout, whether it reached `cluster`, what the cluster ran before it, whether
        the rollout knows the cluster) in one round trip: what `desired_for_pair` needs."""
        pipe = self._r.pipeline(transaction=False)
        pipe.get(self._rollout_key(app))
        pipe.hexists(self._rollout_key(app, "progress"), cluster)
        pipe.hget(self._rollout_key(app, "previous"), cluster)
        raw, reached, previous = pipe.execute()
        rollout = Rollout.from_json(json.loads(raw)) if raw is not None else None
        held = Held.from_text(text(previous)) if previous else None
        return rollout, bool(reached), held, previous is not None

    def due_rollouts(self, now: float, *, limit: int = 10_000) -> list[str]:
        """Applications whose rollout the controller should look at by `now`."""
        due = self._r.zrangebyscore(self.key("rollouts"), "-inf", repr(now), start=0, num=limit)
        return [text(a) for a in due]  # type: ignore[arg-type]

    def active_rollouts(self) -> list[str]:
        return [text(a) for a in self._r.zrange(self.key("rollouts"), 0, -1)]  # type: ignore[arg-type]

    # Writing

    @overload
    def start_rollout(
        self,
        rollout: Rollout,
        plan: RolloutPlan,
        previous: Mapping[ClusterName, Held | None],
        progress: Mapping[ClusterName, ClusterProgress],
    ) -> Rollout: ...

    @overload
    def start_rollout(
        self,
        rollout: Rollout,
        plan: RolloutPlan,
        previous: Mapping[ClusterName, Held | None],
        progress: Mapping[ClusterName, ClusterProgress],
        *,
        replacing: int,
    ) -> Rollout | None: ...

    def start_rollout(
        self,
        rollout: Rollout,
        plan: RolloutPlan,
        previous: Mapping[ClusterName, Held | None],
        progress: Mapping[ClusterName, ClusterProgress],
        *,
        replacing: int | None = None,
    ) -> Rollout | None:
        """Make `rollout` the application's, replacing any other, in one transaction; returns
        it with its version (one above the replaced rollout's). With `replacing`, only if the
        stored rollout's version is still that (0: no rollout stored); None otherwise."""
        app = rollout.application
        meta = self._rollout_key(app)
        with self._r.pipeline() as pipe:
            while True:
                try:
                    pipe.watch(meta)  # type: ignore[no-untyped-call]
                    raw = pipe.get(meta)
                    stored = int(json.loads(raw)["version"]) if raw is not None else 0
                    if replacing is not None and stored != replacing:
                        pipe.reset()
                        return None
                    version = stored + 1
                    started = replace(rollout, version=version)
                    pipe.multi()
                    pipe.set(meta, json.dumps(started.to_json()))
                    pipe.set(self._rollout_key(app, "plan"), json.dumps(plan.to_json()))
                    hashes: tuple[tuple[str, dict[str, str]], ...] = (
                        ("previous", {c: h.to_text() if h else "" for c, h in previous.items()}),
                        ("progress", {c: json.dumps(p.to_json()) for c, p in progress.items()}),
                    )
                    for what, values in hashes:
                        pipe.delete(self._rollout_key(app, what))
                        if values:
                            pipe.hset(self._rollout_key(app, what), mapping=values)  # type: ignore[arg-type]
                    pipe.zadd(self.key("rollouts"), {app: rollout.started_at})
                    pipe.execute()
                    return started
                except redis.exceptions.WatchError:
                    continue

    def save_rollout(
        self,
        rollout: Rollout,
        *,
        expected: int,
        progress: Mapping[ClusterName, ClusterProgress] | None = None,
        next_check: float | None,
    ) -> Rollout | None:
        """Write `rollout` (and `progress`' entries) if the stored version is still `expected`;
        schedule its next look at `next_check` (None: no more looks). The rollout as written,
        or None when someone else wrote first."""
        return self.save_rollouts([(rollout, expected, progress or {}, next_check)])[0]

    def save_rollouts(
        self,
        writes: Iterable[tuple[Rollout, int, Mapping[ClusterName, ClusterProgress], float | None]],
    ) -> list[Rollout | None]:
        """Many `save_rollout`s in one round trip."""
        pipe = self._r.pipeline(transaction=False)
        saved = []
        for rollout, expected, progress, next_check in writes:
            new = replace(rollout, version=expected + 1)
            saved.append(new)
            args = [
                str(expected),
                json.dumps(new.to_json()),
                repr(next_check) if next_check is not None else "",
                rollout.application,
            ]
            for cluster, p in progress.items():
                args += [cluster, json.dumps(p.to_json())]
            keys = [
                self._rollout_key(rollout.application),
                self._rollout_key(rollout.application, "progress"),
                self.key("rollouts"),
            ]
            pipe.eval(_SAVE, len(keys), *keys, *args)
        return [s if done else None for s, done in zip(saved, pipe.execute(), strict=True)]

    def look_at_rollouts(self, apps: Iterable[str], at: float) -> None:
        """Have the controller look at these applications' rollouts by `at` (those it follows)."""
        wanted = list(apps)
        if wanted:
            pipe = self._r.pipeline(transaction=False)
            for app in wanted:
                pipe.zadd(self.key("rollouts"), {app: at}, xx=True, lt=True)
            pipe.execute()

    def schedule_rollout(self, app: str, at: float | None) -> None:
        """When the controller looks at `app`'s rollout next (None: never again)."""
        if at is None:
            self._r.zrem(self.key("rollouts"), app)
        else:
            self._r.zadd(self.key("rollouts"), {app: at}, xx=True)

    def forget_rollout(self, app: str) -> None:
        pipe = self._r.pipeline()
        for what in ((), ("plan",), ("previous",), ("progress",)):
            pipe.delete(self._rollout_key(app, *what))
        pipe.zrem(self.key("rollouts"), app)
        pipe.execute()

    # The freeze

    def freeze(self) -> Freeze | None:
        raw = self._r.get(self.key("freeze"))
        return Freeze(**json.loads(raw)) if raw is not None else None

    def set_freeze(self, freeze: Freeze | None) -> None:
        if freeze is None:
            self._r.delete(self.key("freeze"))
        else:
            self._r.set(self.key("freeze"), json.dumps(asdict(freeze)))
