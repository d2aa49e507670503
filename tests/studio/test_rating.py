"""Rating tasks: built by `hilite rate-tasks`, rated in Chromium by two raters, exported with
`hilite rate-export` in exactly the `debias` input format, and run through `hilite debias`."""

from __future__ import annotations

import re
from pathlib import Path

import orjson
from playwright.sync_api import expect
from support.photos import save_photo
from typer.testing import CliRunner

from hilite_cli.cli.app import app
from hilite_cli.store import Store, ratings
from hilite_cli.studio.app import StudioSettings

ITEMS = 4


def _manifest(tmp_path: Path, extra: bool = True) -> Path:
    """Triplets (and, with `extra`, a candidate record and an unusable line: any manifest may mix them)."""
    photos = ["astronaut", "coffee", "chelsea", "rocket"]
    for name in photos:
        save_photo(tmp_path, name, 48)
    rows = [{"id": f"t{i}", "source": f"{photos[i]}.png", "edited": f"{photos[(i + 1) % 4]}.png",
             "instruction": f"turn the {photos[i]} into a {photos[(i + 1) % 4]}", "kind": "forward"}
            for i in range(ITEMS - 1)]
    if extra:
        rows.append({"id": "c3", "image": "rocket.png", "output": "astronaut.png", "instruction": "land it",
                     "model": "classic"})
        rows.append({"id": "bad", "source": "missing.png", "edited": "coffee.png", "instruction": "x"})
    path = tmp_path / "triplets.jsonl"
    path.write_bytes(b"".join(orjson.dumps(r) + b"\n" for r in rows))
    return path


def hilite(*args: str):
    """The command in-process, in the test's folder (the suite's subprocess tests cover the entry point)."""
    return CliRunner().invoke(app, list(args))


def _tokens(stderr: str) -> dict[str, str]:
    return dict(re.findall(r"rater (\w+): token (\S+)", stderr))


def test_rate_tasks_assigns_two_to_four_distinct_raters(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    manifest = _manifest(tmp_path)
    res = hilite("rate-tasks", str(manifest), "--data", "data", "--raters", "a,b,c", "--per-item", "3")
    assert res.exit_code == 1  # one line could not be used; the others went through
    assert "line 5 (id bad): image file not found" in res.stderr
    assert set(_tokens(res.stderr)) == {"a", "b", "c"}
    store = Store(tmp_path / "data")
    per_item = {}
    for rater in "abc":
        for task in ratings.tasks(store, rater):
            per_item.setdefault(task["item"], []).append(rater)
    assert sorted(per_item) == ["c3", "t0", "t1", "t2"] and all(len(set(r)) == 3 for r in per_item.values())

    again = hilite("rate-tasks", str(manifest), "--data", "data", "--raters", "a,b,c", "--per-item", "3")
    assert "0 items added, 4 already there" in again.stderr and _tokens(again.stderr) == {}
    for per, raters, why in (("5", "a,b,c,d,e", "2–4"), ("3", "a,b", "at least 3 raters"), ("2", "a,a", "twice")):
        bad = hilite("rate-tasks", str(manifest), "--data", "data", "--raters", raters, "--per-item", per)
        assert bad.exit_code == 2 and why in bad.stderr


def test_two_raters_rate_in_chromium_and_the_export_runs_through_debias(tmp_path: Path, serve, browser,
                                                                        monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    manifest = _manifest(tmp_path, extra=False)
    made = hilite("rate-tasks", str(manifest), "--data", "data", "--raters", "ann,bo", "--per-item", "2")
    tokens = _tokens(made.stderr)
    server = serve(StudioSettings(token="owner"), store=Store(tmp_path / "data"))
    answers = {"ann": [(5, 4), (4, 4), (2, 3)], "bo": [(4, 3), None, (1, 2)]}
    for rater, scores in answers.items():
        context = browser.new_context()
        page = context.new_page()
        page.goto(f"{server.url}/rate?token={tokens[rater]}")
        done = skipped = 0
        for pair in scores:
            page.wait_for_selector("#rate-form")
            if pair is None:
                page.fill("#rate-comment", "cannot tell")
                page.click("#rate-skip")
                skipped += 1
            else:
                page.click(f'.scale[data-name="instruction"] .score[data-value="{pair[0]}"]')
                page.click(f'.scale[data-name="aesthetics"] .score[data-value="{pair[1]}"]')
                page.click("#rate-submit")
                done += 1
            expect(page.locator("#rate-progress")).to_have_text(
                f"{done} rated, {skipped} skipped, {3 - done - skipped} left of 3")
        page.wait_for_selector("#rate-done")
        assert page.goto(f"{server.url}/edit").status == 403  # a rater's token opens only the rating pages
        context.close()

    exported = hilite("rate-export", "--data", "data", "-o", "ratings.jsonl")
    assert exported.exit_code == 0 and "5 ratings" in exported.stderr
    # the chain on to a tuned validator, with this round's own paths
    assert "hilite tune-judge dataset ratings.jsonl --data data --out tuning/" in exported.stderr
    rows = [orjson.loads(x) for x in (tmp_path / "ratings.jsonl").read_text().splitlines()]
    assert all(set(r) == {"item", "rater", "instruction", "aesthetics"} for r in rows)
    assert {(r["item"], r["rater"]): (r["instruction"], r["aesthetics"]) for r in rows}[("t0", "ann")] == (5, 4)
    debiased = hilite("debias", "ratings.jsonl", "-o", "items.jsonl")
    assert debiased.exit_code == 0, debiased.stderr
    items = {orjson.loads(x)["item"] for x in (tmp_path / "items.jsonl").read_text().splitlines()}
    assert items == {"t0", "t1", "t2"}


def test_rate_tasks_prints_each_token_before_any_item(tmp_path: Path) -> None:
    """Killed mid-run, the raters already have their links: tokens are printed as soon as they are made,
    not at the end (stdin gives one line and stays open here, so the run is killed while it waits)."""
    import os
    import select
    import subprocess
    import sys
    import time

    manifest = _manifest(tmp_path, extra=False)
    proc = subprocess.Popen([sys.executable, "-m", "hilite_cli", "rate-tasks", "-", "--data", "data",
                             "--raters", "ann,bo", "--per-item", "2"], stdin=subprocess.PIPE, cwd=tmp_path,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, env=os.environ.copy())
    proc.stdin.write(manifest.read_bytes().splitlines(keepends=True)[0])
    proc.stdin.flush()
    printed = b""
    deadline = time.monotonic() + 60
    while len(_tokens(printed.decode())) < 2 and time.monotonic() < deadline:
        if select.select([proc.stderr], [], [], 1)[0]:
            got = os.read(proc.stderr.fileno(), 4096)
            if not got:
                break
            printed += got
    proc.kill()
    proc.wait(timeout=30)
    tokens = _tokens(printed.decode())
    assert set(tokens) == {"ann", "bo"}, printed
    store = Store(tmp_path / "data")
    assert {name: ratings.rater_for_token(store, token) for name, token in tokens.items()} == {"ann": "ann", "bo": "bo"}
    # The kill may land between printing a token and recording that it was printed: a re-run then
    # prints that same token again (never a new one), and once a run has finished, none.
    args = ("rate-tasks", str(manifest), "--data", str(tmp_path / "data"), "--raters", "ann,bo", "--per-item", "2")
    again = hilite(*args)
    assert again.exit_code == 0 and _tokens(again.stderr).items() <= tokens.items()
    assert _tokens(hilite(*args).stderr) == {}


def test_a_token_made_but_never_printed_is_printed_by_the_next_run(tmp_path: Path) -> None:
    """A run killed between making the tokens and printing them: the next run prints those."""
    store = Store(tmp_path / "data")
    made = ratings.ensure_raters(store, ["ann", "bo"])  # what the killed run got to do
    res = hilite("rate-tasks", str(_manifest(tmp_path, extra=False)), "--data", str(tmp_path / "data"),
                 "--raters", "ann,bo,cy", "--per-item", "2")
    assert res.exit_code == 0, res.stderr
    printed = _tokens(res.stderr)
    assert set(printed) == {"ann", "bo", "cy"}
    assert (printed["ann"], printed["bo"]) == (made["ann"][0], made["bo"][0])
