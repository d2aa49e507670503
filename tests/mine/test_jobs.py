"""The scheduler's uniform draw without replacement, its windows, and the state file."""

from __future__ import annotations

from pathlib import Path

from hilite_cli.stages.mine.jobs import Scheduler, StateFile, enumerate_jobs


def _jobs(sources: int = 3, instructions: int = 2, attempts: int = 4):
    return enumerate_jobs([(f"s{i}", [f"edit {k}" for k in range(instructions)]) for i in range(sources)], attempts)


def _drain(scheduler: Scheduler) -> list[list]:
    groups = []
    while window := scheduler.next_window():
        groups.extend(window)
    return groups


def test_enumerates_n_k_m_distinct_jobs() -> None:
    jobs = _jobs(3, 2, 4)
    assert len(jobs) == 24
    assert len({j.id for j in jobs}) == 24
    assert {j.seed for j in jobs} == {0, 1, 2, 3}


def test_every_job_is_drawn_exactly_once_in_seeded_order() -> None:
    jobs = _jobs()
    order_a = [j.id for g in _drain(Scheduler(jobs, done=set(), seed=7, window=5)) for j in g]
    order_b = [j.id for g in _drain(Scheduler(list(reversed(jobs)), done=set(), seed=7, window=5)) for j in g]
    order_c = [j.id for g in _drain(Scheduler(jobs, done=set(), seed=8, window=5)) for j in g]
    assert sorted(order_a) == sorted(j.id for j in jobs)
    assert len(set(order_a)) == len(order_a)
    assert order_a == order_b  # the input order does not matter, the seed does
    assert order_a != order_c


def test_groups_share_source_and_instruction_and_batch_their_seeds() -> None:
    jobs = _jobs(2, 2, 3)
    groups = _drain(Scheduler(jobs, done=set(), seed=0, window=len(jobs)))
    assert len(groups) == 4  # one window holds everything: one group per (source, instruction)
    for group in groups:
        assert len({j.pair for j in group}) == 1
        assert sorted(j.seed for j in group) == [0, 1, 2]


def test_resume_skips_done_jobs_and_keeps_the_draw_order() -> None:
    jobs = _jobs()
    full = [j.id for g in _drain(Scheduler(jobs, done=set(), seed=3, window=1)) for j in g]
    done = set(full[:10])
    resumed = Scheduler(jobs, done=done, seed=3, window=1)
    rest = [j.id for g in _drain(resumed) for j in resumed.todo(g)]
    assert rest == full[10:]


def test_resume_recomputes_a_cut_group_whole_so_batches_match() -> None:
    jobs = _jobs(1, 1, 3)
    [group] = _drain(Scheduler(jobs, done=set(), seed=0, window=3))
    cut = Scheduler(jobs, done={group[0].id}, seed=0, window=3)
    [again] = _drain(cut)
    assert [j.id for j in again] == [j.id for j in group]  # the same batched call
    assert [j.id for j in cut.todo(again)] == [j.id for j in group[1:]]  # only the unfinished ones recorded
    assert _drain(Scheduler(jobs, done={j.id for j in group}, seed=0, window=3)) == []


def test_resume_past_more_done_windows_than_the_recursion_limit() -> None:
    import sys

    jobs = _jobs(sys.getrecursionlimit() + 500, 1, 1)
    order = [j.id for g in _drain(Scheduler(jobs, done=set(), seed=2, window=1)) for j in g]
    resumed = Scheduler(jobs, done=set(order[:-1]), seed=2, window=1)
    assert [[j.id for j in g] for g in resumed.next_window()] == [[order[-1]]]
    assert resumed.next_window() == []


def test_until_first_pass_drops_the_rest_of_a_passed_pair() -> None:
    jobs = _jobs(1, 2, 4)
    passed: set[tuple[str, str]] = set()
    scheduler = Scheduler(jobs, done=set(), seed=1, window=1, passed_pairs=passed)
    first = scheduler.next_window()[0][0]
    passed.add(first.pair)
    rest = [j for g in _drain(scheduler) for j in g]
    assert all(j.pair != first.pair for j in rest)
    assert len(rest) == 4


def test_state_file_appends_and_a_torn_line_is_cut_on_resume(tmp_path: Path) -> None:
    path = tmp_path / "pool.jsonl.state.jsonl"
    state = StateFile(path, resume=False)
    state.append({"type": "source", "id": "s", "outcome": "gated", "gpu_s": 1.5})
    state.append({"type": "job", "id": "j1", "outcome": "passed", "gpu_s": 0.25})
    state.close()
    with path.open("ab") as fh:
        fh.write(b'{"type":"job","id":"j2","outc')  # a kill mid-write
    resumed = StateFile(path, resume=True)
    assert set(resumed.jobs) == {"j1"}
    assert resumed.gpu_seconds() == 1.75
    resumed.append({"type": "job", "id": "j2", "outcome": "rejected:a2", "gpu_s": 0.25})
    resumed.close()
    assert len(path.read_text().splitlines()) == 3
    fresh = StateFile(path, resume=False)
    assert fresh.jobs == {} and path.read_bytes() == b""
    fresh.close()


def test_forget_failed_keeps_their_gpu_time(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    state = StateFile(path, resume=False)
    state.append({"type": "job", "id": "j1", "outcome": "failed:prefilter_a2_http_error", "gpu_s": 1.0})
    state.append({"type": "job", "id": "j2", "outcome": "passed", "gpu_s": 1.0})
    state.close()
    resumed = StateFile(path, resume=True)
    assert resumed.forget_failed() == {"j1"} and set(resumed.jobs) == {"j2"}
    resumed.append({"type": "job", "id": "j1", "outcome": "passed", "gpu_s": 1.0})
    assert resumed.gpu_seconds() == 3.0  # the failed attempt's GPU time was spent too
    resumed.close()
    again = StateFile(path, resume=True)
    assert again.jobs["j1"]["outcome"] == "passed"  # the last line wins
    again.close()


def test_awaiting_lines_give_way_to_the_jobs_verdict_and_spend_adds_up(tmp_path: Path) -> None:
    path = tmp_path / "state.jsonl"
    state = StateFile(path, resume=False)
    state.append({"type": "awaiting", "id": "j1", "outcome": "awaiting:prefilter", "staged": "x.png", "gpu_s": 2.0,
                  "usd": 0.25})
    state.append({"type": "awaiting", "id": "j2", "outcome": "awaiting:prefilter", "staged": "y.png", "gpu_s": 2.0})
    state.append({"type": "job", "id": "j1", "outcome": "passed", "gpu_s": 0.0, "usd": 0.5})
    state.close()
    resumed = StateFile(path, resume=True)
    assert set(resumed.awaiting) == {"j2"} and set(resumed.jobs) == {"j1"}  # j1's verdict replaced its awaiting line
    assert resumed.gpu_seconds() == 4.0 and resumed.usd_spent() == 0.75  # the edits' GPU time is on the awaiting lines
    resumed.close()
