"""The offline provider: no network, no weights, and therefore no semantic judgements.

Every Ask is answered `unavailable`; a stage that needs a score or a yes/no records that honestly
instead of inventing one. Rule-based work (routing, pixel checks) lives in the stages themselves.
"""

from __future__ import annotations

from hilite_cli.providers.base import Answer, Ask, Provider

REASON = "offline provider makes no semantic judgements; choose a gemini, openai or local provider for this step"


class OfflineProvider(Provider):
    name = "offline"

    def ask(self, ask: Ask) -> Answer:
        return self.answer("unavailable", reason=REASON)

    def _attempt(self, ask: Ask) -> Answer:
        return self.ask(ask)
