"""`hilite edit --session` and `hilite session …` as a user runs them: real subprocesses over one store."""

from __future__ import annotations

import os
import pty
import select
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from support.photos import save_photo
from typer.testing import CliRunner

from hilite_cli.cli.app import app
from hilite_cli.store import Store, gallery, sessions

EDIT = ("--out", "o", "--data", "data")


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    save_photo(tmp_path, "astronaut", 64)


def hilite(*args: str):
    """In-process, in the test's folder: CliRunner's stdin is not a terminal, as in a pipe."""
    return CliRunner().invoke(app, list(args))


def _edit(instruction: str, *extra: str):
    return hilite("edit", "astronaut.png", instruction, *EDIT, "--session", "trip", *extra)


def test_session_steps_pick_revert_publish(tmp_path: Path, tiny_ip2p_weights: Path) -> None:
    # step 1 on two editors: classic's 2 attempts make 1 candidate, the tiny InstructPix2Pix's 2 seeds 2
    two_editors = ("--models", "classic,instruct-pix2pix", "--weights", f"instruct-pix2pix={tiny_ip2p_weights}",
                   "--attempts", "2", "--steps", "1")
    first = _edit("make it black and white", *two_editors)
    assert first.exit_code == 0, first.stderr
    assert "session trip: new" in first.stderr and "step 1 recorded" in first.stderr

    picked = _edit("make it black and white", *two_editors, "--pick", "b", "--instruction-match", "5",
                   "--original-match", "4", "--comment", "good")
    assert picked.exit_code == 0, picked.stderr
    # step 2 on classic alone: deterministic, so 3 attempts are one candidate, in slot A
    second = _edit("make it sepia", "--models", "classic", "--attempts", "3", "--pick", "A",
                   "--instruction-match", "3", "--original-match", "5")
    assert second.exit_code == 0, second.stderr
    assert "starts from the image picked at step 1" in second.stderr

    store = Store(tmp_path / "data")
    one, two = sessions.steps(store, "trip")
    assert (one["number"], one["pick"], one["feedback"]["matches_instruction"], one["feedback"]["comment"]) == (
        1, "B", 5, "good")
    assert sorted((c["model"], c["seed"]) for c in one["candidates"]) == [
        ("classic", 0), ("instruct-pix2pix", 0), ("instruct-pix2pix", 1)]
    assert len({c["image"] for c in one["candidates"]}) == 3
    [kept] = [c for c in one["candidates"] if c["slot"] == "B"]
    assert one["picked_image"] == kept["image"]
    assert [(c["slot"], c["model"]) for c in two["candidates"]] == [("A", "classic")]
    assert two["input_image"] == one["picked_image"]  # the next step starts from the image picked last
    assert two["route"]["intent"] == "general_editing" and two["knobs"] == {
        "steps": None, "text_influence": None, "image_influence": None}

    feedback = [orjson.loads(x) for x in (tmp_path / "o" / "feedback.jsonl").read_text().splitlines()]
    assert feedback[-1]["prompt"] == "Make it sepia."
    assert {"name": "classic", "prompt": "Make it sepia."} in feedback[-1]["prompts"]
    # no slider moved: classic's default blend weight 1.0 (native), which is level 10 of its 0–10 scale
    assert "knobs" in feedback[-1] and feedback[-1]["params"]["text_influence"] == 10.0
    assert feedback[-1]["params"]["native"] == {"strength": 1.0}

    shown = hilite("session", "show", "trip", "--data", "data", "--json")
    assert [orjson.loads(x)["status"] for x in shown.stdout.splitlines()] == ["picked", "picked"]

    reverted = hilite("session", "revert", "trip", "1", "--data", "data")
    assert reverted.exit_code == 0 and "1 later step(s) reverted" in reverted.stderr
    assert sessions.current_image(store, "trip") == (one["picked_image"], 1)
    bad = hilite("session", "revert", "trip", "7", "--data", "data")
    assert bad.exit_code == 2 and "no kept step 7" in bad.stderr

    published = hilite("session", "publish", "trip", "--title", "Grey days", "--description", "an astronaut",
                       "--private", "--satisfaction", "4", "--data", "data")
    assert published.exit_code == 0, published.stderr
    [pub] = gallery.search(store, "grey", include_private=True)
    assert (pub["public"], pub["satisfaction"], len(pub["workflow"])) == (False, 4, 1)
    assert gallery.search(store, "grey") == []  # private: not in the public listing

    listed = hilite("session", "list", "--data", "data")
    assert "trip" in listed.stdout


def test_pick_without_scores_off_a_terminal_says_so(tmp_path: Path) -> None:
    res = _edit("make it black and white", "--models", "classic", "--pick", "A")
    assert res.exit_code == 2
    assert "stdin is not one: pass --instruction-match and --original-match" in res.stderr
    assert not (tmp_path / "o" / "feedback.jsonl").exists()


def _pick_at_a_terminal(tmp_path: Path, reply: Callable[[bytes], bytes | int | None]) -> tuple[int, bytes]:
    """Run `edit … --pick A` with its stdin and stderr on a pty; `reply(chunk)` answers what it shows,
    with bytes to type or a signal to send (Ctrl-C is SIGINT from the terminal)."""
    controller, terminal = pty.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "hilite_cli", "edit", "astronaut.png", "make it black and white", "--models", "classic",
         *EDIT, "--pick", "A"],
        stdin=terminal, stdout=subprocess.PIPE, stderr=terminal, cwd=tmp_path, env=os.environ.copy())
    os.close(terminal)
    seen = b""
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        ready, _, _ = select.select([controller], [], [], 0.5)
        if ready:
            try:
                chunk = os.read(controller, 4096)
            except OSError:
                break
            seen += chunk
            answer = reply(chunk)
            if isinstance(answer, bytes):
                os.write(controller, answer)
            elif answer is not None:
                proc.send_signal(answer)
    proc.communicate(timeout=120)
    os.close(controller)
    return proc.returncode, seen


def test_pick_asks_for_all_four_feedback_answers_on_a_real_terminal(tmp_path: Path) -> None:
    """HILITE's feedback (a)-(d) over a pty: (a) re-asked after an out-of-range answer (the prompt that once
    crashed with `module 'typer' has no attribute 'IntRange'`), (c) and (d) optional, Enter skips (d)."""
    scores = iter([b"9\n", b"4\n", b"2\n"])
    texts = iter([b"a rude gesture\n", b"\n"])

    def reply(chunk: bytes) -> bytes | None:
        if b"(1-5)?" in chunk:
            return next(scores)
        return next(texts) if b"(Enter: nothing)" in chunk else None

    code, seen = _pick_at_a_terminal(tmp_path, reply)
    assert code == 0, seen.decode()
    assert b"please answer 1, 2, 3, 4 or 5" in seen and b"(c) Is anything in it offensive?" in seen
    [fb] = [orjson.loads(x) for x in (tmp_path / "o" / "feedback.jsonl").read_text().splitlines()]
    assert (fb["matches_instruction"], fb["matches_original"]) == (4, 2)
    assert (fb["offensive"], fb["offensive_description"], fb["comment"]) == (True, "a rude gesture", None)


def test_ctrl_c_at_the_pick_prompt_exits_130(tmp_path: Path) -> None:
    code, seen = _pick_at_a_terminal(tmp_path, lambda chunk: signal.SIGINT if b"(1-5)?" in chunk else None)
    assert code == 130, seen.decode()
    assert not (tmp_path / "o" / "feedback.jsonl").exists()


def test_an_unpicked_step_is_not_kept_and_the_next_edit_says_where_it_starts(tmp_path: Path) -> None:
    """A retry with other --models records a step nobody picks: it is not a kept step, and the next
    --session edit says it starts from the base image (it used to say nothing)."""
    assert _edit("make it black and white", "--models", "classic").exit_code == 0
    retry = _edit("make it sepia", "--models", "classic")
    assert retry.exit_code == 0, retry.stderr
    assert "step(s) 1 were never picked, so they are not kept: this step starts from the session's base image" \
        in retry.stderr
    listed = hilite("session", "list", "--data", "data")
    assert listed.exit_code == 0 and "│ trip    │ 0 " in listed.stdout.replace("┃", "│")
