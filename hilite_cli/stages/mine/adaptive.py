"""`mine --schedule adaptive`: the draw re-weighted by instruction category as verdicts come in.

NHR 3.5 and 3.6 suggest spending retries where the editor is weak ("higher priority to instruction
categories where the model performs worse", "M per category or until the first success"). This
scheduler has the interface of `jobs.Scheduler` plus `observe(job, passed)`, and spends the same
global budget: as many draws as the uniform queue holds (`budget`, default pairs x `attempts`).

How a window of `window` draws is allocated:
1. Each category's weight is `prior[c] * f(c)` with f = 1 while it has fewer than `warmup` verdicts,
   `zero_weight` when none of its verdicts passed, else min(1 / pass rate, `max_boost`): attempts in
   proportion to 1 / pass rate give every category about the same number of passes, so weak (but
   not hopeless) categories get more attempts. `prior` comes from `--category-weights` (the last
   `hilite eval`'s weaknesses), default 1.
2. The window's draws are split by largest remainder (ties: category name), capped at what each
   category has left; what a capped category cannot take goes to the others.
3. Within a category, jobs come in one seeded permutation with every pair's first `attempts` seeds
   before any extra seed (a pair in a weak category can get up to `max_attempts` seeds).
The drawn jobs are shuffled (seeded) and grouped by pair, as in the uniform scheduler.

Reproducible and resumable: weights change only between windows, from the verdicts of every job
drawn before (the pipeline waits for a window's verdicts before it asks for the next one), and a
done job (from the state of a killed run) is observed with its recorded verdict when it is drawn
again, so a resumed run replays exactly the windows of an uninterrupted one. With
`--until-first-pass`, a pair stops when its observed attempts passed (the scheduler's own record,
not the state file's, for the same reason).
"""

from __future__ import annotations

import math
import random
import threading
from collections import defaultdict, deque
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hilite_cli.config import load_config
from hilite_cli.stages.mine.categories import default_category
from hilite_cli.stages.mine.jobs import Job, Scheduler

Pair = tuple[str, str]
SCHEDULES = ("uniform", "adaptive")


@dataclass(frozen=True)
class AdaptiveSettings:
    warmup: int
    zero_weight: float
    max_boost: float
    attempts_factor: int

    @classmethod
    def from_config(cls) -> AdaptiveSettings:
        c = load_config("schedule")["adaptive"]
        return cls(int(c["warmup"]), float(c["zero_weight"]), float(c["max_boost"]), int(c["attempts_factor"]))


def universe_attempts(schedule: str, attempts: int, settings: AdaptiveSettings | None = None) -> int:
    """Seeds to enumerate per pair: M for uniform, M x attempts_factor for adaptive (its extra retries)."""
    if schedule == "uniform":
        return attempts
    return attempts * (settings or AdaptiveSettings.from_config()).attempts_factor


def category_weight(n: int, passes: int, prior: float, s: AdaptiveSettings) -> float:
    """Step 1 of the module docstring."""
    if n < s.warmup:
        factor = 1.0
    elif passes == 0:
        factor = s.zero_weight
    else:
        factor = min(n / passes, s.max_boost)
    return prior * factor


def apportion(slots: int, weights: Mapping[str, float], capacity: Mapping[str, int]) -> dict[str, int]:
    """Split `slots` by weight (largest remainder, ties by name), each capped at its capacity.

    A category whose share exceeds its capacity gets all it has, and the rest is split again
    among the others.
    """
    alloc = {c: 0 for c in weights}
    open_ = sorted(c for c, w in weights.items() if w > 0 and capacity.get(c, 0) > 0)
    left = min(slots, sum(capacity[c] for c in open_))
    while left > 0:
        total = sum(weights[c] for c in open_)
        quotas = {c: left * weights[c] / total for c in open_}
        share = {c: math.floor(q) for c, q in quotas.items()}
        for c in sorted(open_, key=lambda c: (-(quotas[c] - share[c]), c))[: left - sum(share.values())]:
            share[c] += 1
        capped = [c for c in open_ if share[c] > capacity[c]]
        if not capped:
            for c in open_:
                alloc[c] = share[c]
            break
        for c in capped:
            alloc[c] = capacity[c]
            left -= capacity[c]
            open_.remove(c)
    return alloc


class AdaptiveScheduler:
    """Category-weighted draws without replacement, in windows grouped by (source, instruction)."""

    adaptive = True

    def __init__(
        self,
        jobs: list[Job],
        *,
        done: set[str],
        seed: int,
        window: int,
        passed_pairs: set[Pair] | None = None,
        categories: Mapping[Pair, str] | None = None,
        attempts: int | None = None,
        budget: int | None = None,
        outcomes: Mapping[str, bool | None] | None = None,
        prior: Mapping[str, float] | None = None,
        settings: AdaptiveSettings | None = None,
    ) -> None:
        if window < 1:
            raise ValueError(f"`window` must be >= 1, got {window}")
        self.done = done
        self.window = window
        self.seed = seed
        self.settings = settings or AdaptiveSettings.from_config()
        self.categories = dict(categories or {})
        self.fallback = default_category()
        self.prior = dict(prior or {})
        self.outcomes = dict(outcomes or {})
        self.until_first_pass = passed_pairs is not None
        base = attempts if attempts is not None else 1 + max((j.seed for j in jobs), default=-1)
        pairs = {j.pair for j in jobs}
        self.budget = budget if budget is not None else len(pairs) * base
        self.queues: dict[str, deque[Job]] = {}
        by_category: dict[str, list[Job]] = defaultdict(list)
        for job in jobs:
            by_category[self.category(job)].append(job)
        for category, members in sorted(by_category.items()):
            order = sorted(members, key=lambda j: j.id)
            random.Random(f"{seed}:{category}").shuffle(order)
            order.sort(key=lambda j: j.seed >= base)  # stable: every pair's first M seeds come first
            self.queues[category] = deque(order)
        self.n: dict[str, int] = defaultdict(int)
        self.passes: dict[str, int] = defaultdict(int)
        self.passed: set[Pair] = set()
        self.drawn = 0
        self.windows = 0
        self._observed: set[str] = set()
        self._lock = threading.RLock()

    def category(self, job: Job) -> str:
        return self.categories.get(job.pair, self.fallback)

    def __len__(self) -> int:
        """Jobs still to run: the runnable undone ones, at most the budget left."""
        with self._lock:
            waiting = sum(1 for q in self.queues.values() for j in q if j.id not in self.done and self.runnable(j))
            return min(waiting, max(0, self.budget - self.drawn))

    def todo(self, group: list[Job]) -> list[Job]:
        return [j for j in group if j.id not in self.done]

    def runnable(self, job: Job) -> bool:
        return not (self.until_first_pass and job.pair in self.passed)

    def observe(self, job: Job, passed: bool | None) -> None:
        """A job's verdict: True passed the pre-filter, False rejected, None failed (not counted)."""
        with self._lock:
            if job.id in self._observed:
                return
            self._observed.add(job.id)
            if passed is None:
                return
            category = self.category(job)
            self.n[category] += 1
            if passed:
                self.passes[category] += 1
                self.passed.add(job.pair)

    def weights(self) -> dict[str, float]:
        """Each category's current weight (step 1)."""
        with self._lock:
            return {
                c: category_weight(self.n[c], self.passes[c], self.prior.get(c, 1.0), self.settings) for c in self.queues
            }

    def _take(self, category: str, count: int) -> list[Job]:
        queue, out = self.queues[category], []
        while queue and len(out) < count:
            job = queue.popleft()
            if self.runnable(job):
                out.append(job)
        return out

    def _draw(self, slots: int) -> list[Job]:
        """`slots` runnable jobs split by weight; a category that runs dry hands its share on."""
        drawn: list[Job] = []
        weights = self.weights()
        while len(drawn) < slots:
            capacity = {c: len(q) for c, q in self.queues.items()}
            alloc = apportion(slots - len(drawn), weights, capacity)
            if not any(alloc.values()):
                break
            for category in sorted(alloc):
                drawn.extend(self._take(category, alloc[category]))
        return drawn

    def next_window(self) -> list[list[Job]]:
        """The next groups to run; empty when the budget is spent or every queue is exhausted."""
        with self._lock:
            while True:
                slots = min(self.window, self.budget - self.drawn)
                drawn = self._draw(slots) if slots > 0 else []
                self.drawn += len(drawn)
                self.windows += 1
                random.Random(f"{self.seed}:window:{self.windows}").shuffle(drawn)
                groups: dict[Pair, list[Job]] = {}
                for job in drawn:
                    groups.setdefault(job.pair, []).append(job)
                    if job.id in self.done and job.id in self.outcomes:
                        self.observe(job, self.outcomes[job.id])
                runnable = [g for g in groups.values() if self.todo(g)]
                if runnable or not drawn:
                    return runnable

    def summary(self) -> dict[str, Any]:
        """What the stats JSON records about the adaptive draw."""
        with self._lock:
            return {
                "job_budget": self.budget,
                "drawn": self.drawn,
                "weights": self.weights(),
                "prior": self.prior,
                "verdicts": {c: {"attempts": self.n[c], "passes": self.passes[c]} for c in self.queues},
            }


def make_scheduler(
    schedule: str,
    jobs: list[Job],
    *,
    done: set[str],
    seed: int,
    window: int,
    passed_pairs: set[Pair] | None,
    categories: Mapping[Pair, str],
    attempts: int,
    outcomes: Mapping[str, bool | None],
    prior: Mapping[str, float],
) -> Scheduler | AdaptiveScheduler:
    """The scheduler `--schedule` names (uniform: the paper's, unchanged)."""
    if schedule == "uniform":
        return Scheduler(jobs, done=done, seed=seed, window=window, passed_pairs=passed_pairs)
    if schedule == "adaptive":
        return AdaptiveScheduler(
            jobs, done=done, seed=seed, window=window, passed_pairs=passed_pairs, categories=categories,
            attempts=attempts, outcomes=outcomes, prior=prior,
        )
    raise ValueError(f"--schedule must be one of {', '.join(SCHEDULES)}, got {schedule!r}")
