"""Estimated spend from token counts and the user-editable price table in configs/providers.toml.

A cost that cannot be computed (no price for the model, answers without token counts) is None with
the reason, never 0: a run that says "$0.00" must really have cost nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hilite_cli.config import load_config
from hilite_cli.providers.usage import Tally, UsageMeter

PER = 1_000_000


@dataclass(frozen=True)
class Price:
    """US dollars per million tokens, and the fraction the Batch API takes off."""

    input_per_1m: float
    output_per_1m: float
    batch_discount: float = 0.0


def price_for(backend: str, model: str | None, table: dict[str, Any] | None = None) -> Price | None:
    """The `[prices."backend:model"]` entry, or None when the table has none."""
    prices = table if table is not None else load_config("providers").get("prices", {})
    entry = prices.get(f"{backend}:{model}")
    if entry is None:
        return None
    return Price(float(entry["input_per_1m"]), float(entry["output_per_1m"]), float(entry.get("batch_discount", 0.0)))


def _dollars(tally: Tally, price: Price, factor: float) -> float:
    return (tally.input_tokens * price.input_per_1m + tally.output_tokens * price.output_per_1m) / PER * factor


def _spend(meter: UsageMeter, price: Price) -> float:
    """Interactive tokens at list price, batch tokens at list price less the batch discount."""
    return _dollars(meter.interactive, price, 1.0) + _dollars(meter.batch, price, 1.0 - price.batch_discount)


@dataclass(frozen=True)
class Cost:
    """Estimated spend of one provider in one run; `usd` None means unknown, and `reason` says why."""

    usd: float | None
    reason: str | None = None


def estimate(meter: UsageMeter, table: dict[str, Any] | None = None) -> Cost:
    """Interactive tokens at list price, batch tokens at list price less the batch discount; cached answers are free."""
    if meter.calls == 0:
        return Cost(0.0)
    missing = meter.interactive.without_usage + meter.batch.without_usage
    if missing:
        return Cost(None, f"{missing} answers came without token counts")
    price = price_for(meter.backend, meter.model, table)
    if price is None:
        return Cost(None, f"no price for {meter.backend}:{meter.model} in configs/providers.toml [prices]")
    return Cost(_spend(meter, price))


def known_usd(meter: UsageMeter, table: dict[str, Any] | None = None) -> float:
    """The spend of the tokens that were reported (a lower bound when some answers had no counts),
    for budgets; 0 for a model without a price (callers that enforce a budget check `price_for` first)."""
    price = price_for(meter.backend, meter.model, table)
    if price is None:
        return 0.0
    return _spend(meter, price)


def summary(meter: UsageMeter, table: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a stage writes to its stats for one provider."""
    cost = estimate(meter, table)
    billed = (meter.interactive, meter.batch)
    return {
        "provider": f"{meter.backend}:{meter.model}",
        "calls": meter.calls,
        "batch_calls": meter.batch.answers,
        "cached": meter.cached.answers,
        "input_tokens": sum(t.input_tokens for t in billed),
        "output_tokens": sum(t.output_tokens for t in billed),
        "cost_usd": cost.usd,
        "cost_reason": cost.reason,
    }


def summary_line(stage: str, stats: dict[str, Any]) -> str:
    """`validate: gemini:gemini-2.5-flash: 12 calls (12 batch), 3 cached, 10234 in / 512 out tokens, est. $0.0042`."""
    cost = f"est. ${stats['cost_usd']:.4f}" if stats["cost_usd"] is not None else f"cost unknown ({stats['cost_reason']})"
    batch = f" ({stats['batch_calls']} batch)" if stats["batch_calls"] else ""
    return (
        f"{stage}: {stats['provider']}: {stats['calls']} calls{batch}, {stats['cached']} cached, "
        f"{stats['input_tokens']} in / {stats['output_tokens']} out tokens, {cost}"
    )
