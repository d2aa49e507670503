"""Issue 29: a malformed or blocked answer that comes once (the next ask is fine) is asked again within
the run, up to --max-retries, as a 5xx is; the typed answer stays when the retries run out. Complete
answers (prose, a refusal, a score off the scale) and cut-off ones are not retried."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from support.loopback import Blocked, Loopback, Raw, Refusal, Text

from hilite_cli.providers import Ask, Provider
from hilite_cli.providers.schemas import EditScores

SCORES = '{"InstructionAdherence": 4.5, "ImageAesthetic": 3.5}'
MakeProvider = Callable[..., Provider]


def judge_ask() -> Ask:
    return Ask(prompt="judge this edit", expect="json", schema=EditScores)


ONE_OFF = {
    "blocked": Blocked(),
    "malformed-json": Text('{"InstructionAdherence": 4.5,, }'),
    "not-the-wire-format": Raw(200, "<html>proxy</html>"),
}


@pytest.mark.parametrize("once", list(ONE_OFF.values()), ids=list(ONE_OFF))
def test_a_one_off_bad_answer_is_asked_again_within_the_run(make: MakeProvider, server: Loopback, once: object) -> None:
    server.script(once, SCORES)
    provider = make()
    waits: list[float] = []
    provider.sleep = waits.append
    answer = provider.ask(judge_ask())
    assert answer.status == "ok" and answer.value == EditScores(InstructionAdherence=4.5, ImageAesthetic=3.5)
    assert len(server.requests) == 2 and len(waits) == 1  # backed off like a 5xx
    assert make().ask(judge_ask()).cached  # the good answer is the one kept


@pytest.mark.parametrize("always", list(ONE_OFF.values()), ids=list(ONE_OFF))
def test_the_typed_answer_stays_when_the_retries_run_out(make: MakeProvider, server: Loopback, always: object) -> None:
    server.answer = lambda req: always
    answer = make(max_retries=1).ask(judge_ask())
    assert answer.status in ("blocked", "unparsed") and answer.value is None
    assert "gave up after 2 attempts" in answer.reason and len(server.requests) == 2
    assert not make().ask(judge_ask()).cached  # still never cached: a re-run asks again


def test_max_retries_zero_asks_once(make: MakeProvider, server: Loopback) -> None:
    server.script(Blocked(), SCORES)
    answer = make(max_retries=0).ask(judge_ask())
    assert answer.status == "blocked" and "gave up" not in answer.reason and len(server.requests) == 1


@pytest.mark.parametrize("complete", [Text("Sure! Adherence 4.5."), Refusal()], ids=["prose", "refusal"])
def test_complete_answers_are_not_retried(make: MakeProvider, server: Loopback, complete: object) -> None:
    server.script(complete, SCORES)
    answer = make().ask(judge_ask())
    assert answer.status in ("unparsed", "refused") and len(server.requests) == 1


def test_tokens_of_a_discarded_broken_answer_are_counted(make: MakeProvider, server: Loopback) -> None:
    server.script(Text('{"InstructionAdherence": 4.5,, }', tokens=(100, 10)), Text(SCORES, tokens=(100, 20)))
    provider = make()
    assert provider.ask(judge_ask()).status == "ok"
    assert provider.usage.interactive.answers == 2 and provider.usage.interactive.output_tokens == 30
