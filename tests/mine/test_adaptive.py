"""The adaptive scheduler's allocation, on hand-computed cases, and its reproducibility on resume."""

from __future__ import annotations

import pytest

from hilite_cli.stages.mine.adaptive import AdaptiveScheduler, AdaptiveSettings, apportion, category_weight
from hilite_cli.stages.mine.jobs import Job, enumerate_jobs

S = AdaptiveSettings(warmup=2, zero_weight=0.25, max_boost=8.0, attempts_factor=3)


def test_largest_remainder_with_ties_by_name() -> None:
    # quotas 2.5 and 7.5: floors 2 and 7, the one slot left goes to the tie's first name
    assert apportion(10, {"a": 1.0, "b": 3.0}, {"a": 99, "b": 99}) == {"a": 3, "b": 7}


def test_a_capped_category_hands_its_share_on() -> None:
    # quotas 2.5, 2.5, 5 -> 3, 2, 5; a holds 1, so the 9 left split 1:2 between b and c -> 3, 6
    assert apportion(10, {"a": 1.0, "b": 1.0, "c": 2.0}, {"a": 1, "b": 10, "c": 10}) == {"a": 1, "b": 3, "c": 6}
    assert apportion(5, {"a": 1.0, "b": 0.0}, {"a": 2, "b": 9}) == {"a": 2, "b": 0}  # weight 0: never drawn


@pytest.mark.parametrize(
    ("n", "passes", "prior", "weight"),
    [(1, 0, 1.0, 1.0), (1, 1, 3.0, 3.0), (10, 0, 1.0, 0.25), (10, 2, 1.0, 5.0), (100, 1, 1.0, 8.0), (10, 2, 2.0, 10.0)],
)
def test_category_weight(n: int, passes: int, prior: float, weight: float) -> None:
    """Warm-up -> prior; no pass -> zero_weight; else 1 / pass rate, capped at max_boost; times the prior."""
    assert category_weight(n, passes, prior, S) == weight


def _setup(until_first_pass: bool = False, window: int = 4, done: set[str] | None = None, outcomes=None):
    pairs = [("e1", "brighten"), ("e2", "brighten"), ("h1", "add a hat"), ("h2", "add a hat")]
    categories = {p: ("easy" if p[0].startswith("e") else "hard") for p in pairs}
    jobs = enumerate_jobs([(s, [i]) for s, i in pairs], 6)  # M=2, x3 extra seeds for weak categories
    scheduler = AdaptiveScheduler(
        jobs, done=done or set(), seed=0, window=window, passed_pairs=set() if until_first_pass else None,
        categories=categories, attempts=2, outcomes=outcomes, settings=S,
    )
    return scheduler, categories


def _window(scheduler: AdaptiveScheduler) -> list[Job]:
    return [j for g in scheduler.next_window() for j in g]


def test_weak_but_not_hopeless_category_gets_more_of_the_same_budget() -> None:
    scheduler, categories = _setup()
    assert scheduler.budget == 8 and len(scheduler) == 8  # 4 pairs x M=2: the uniform queue's size
    first = _window(scheduler)
    assert sorted(categories[j.pair] for j in first) == ["easy", "easy", "hard", "hard"]  # no verdicts: weight 1 each
    assert all(j.seed < 2 for j in first)  # every pair's first M seeds come before the extra ones
    hard_passed = False
    for job in first:  # easy: 2 of 2 pass (weight 1); hard: 1 of 2 (weight 2)
        passed = categories[job.pair] == "easy" or not hard_passed
        hard_passed |= categories[job.pair] == "hard"
        scheduler.observe(job, passed)
    assert scheduler.weights() == {"easy": 1.0, "hard": 2.0}
    second = _window(scheduler)
    # quotas 4/3 and 8/3 -> floors 1 and 2, the slot left to the larger remainder (hard)
    assert sorted(categories[j.pair] for j in second) == ["easy", "hard", "hard", "hard"]
    assert scheduler.next_window() == [] and len(scheduler) == 0  # budget of 8 spent


def test_failures_do_not_count_and_until_first_pass_stops_a_pair() -> None:
    scheduler, categories = _setup(until_first_pass=True, window=2)
    first = _window(scheduler)
    for job in first:
        scheduler.observe(job, True if categories[job.pair] == "easy" else None)
    assert scheduler.summary()["verdicts"] == {"easy": {"attempts": 1, "passes": 1}, "hard": {"attempts": 0, "passes": 0}}
    passed_pair = next(j.pair for j in first if categories[j.pair] == "easy")
    rest = []
    while window := _window(scheduler):
        rest.extend(window)
        for job in window:
            scheduler.observe(job, False)
    assert passed_pair not in {j.pair for j in rest}  # its other attempts were dropped, not spent
    assert len(first) + len(rest) == 8  # the dropped attempts' budget went to the other pairs


def _simulate(scheduler: AdaptiveScheduler, stop_after: int | None = None) -> list[str]:
    """Run windows, recording done jobs in order; a job passes when its id's last hex digit is < 4."""
    order: list[str] = []
    windows = 0
    while groups := scheduler.next_window():
        for group in groups:
            for job in scheduler.todo(group):
                order.append(job.id)
                scheduler.observe(job, int(job.id[-1], 16) < 4)
        windows += 1
        if stop_after is not None and windows == stop_after:
            break
    return order


def test_a_resumed_run_replays_the_uninterrupted_draw() -> None:
    full = _simulate(_setup(window=3)[0])
    killed = _simulate(_setup(window=3)[0], stop_after=1)
    done = set(killed[:2])  # killed mid-window: the third job of the window was never recorded
    outcomes = {i: int(i[-1], 16) < 4 for i in done}
    resumed = _simulate(_setup(window=3, done=done, outcomes=outcomes)[0])
    assert killed[:2] + resumed == full
    assert _simulate(_setup(window=3)[0]) == full  # same seed, same draw
