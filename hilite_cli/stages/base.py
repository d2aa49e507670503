"""The one contract every stage keeps, so the local and Ray executors run the same code."""

from __future__ import annotations

from typing import ClassVar

from hilite_cli.core import Record


class Stage:
    """`setup()` loads expensive things once, `__call__(batch)` maps input records to output records.

    A stage returns, for a batch, every record it keeps or makes. A record carrying an `error`
    field goes to the errors manifest; raising `RecordError` for a single-record batch does the
    same. Dropping a record (returning nothing for it) means it was filtered, on purpose.
    Stages that need the whole stream (best-of selection, composition) emit the rest in `finish()`.
    """

    name: ClassVar[str] = "stage"
    batch_size: ClassVar[int] = 1
    # True for a stage that emits in `finish()` (needs the whole stream): the Ray executor then groups
    # its inputs by `group_key(record)` and runs each group through its own copy of the stage.
    whole_stream: ClassVar[bool] = False

    def setup(self) -> None:
        """Load models, open clients: called once per worker before the first batch."""

    def __call__(self, batch: list[Record]) -> list[Record]:
        raise NotImplementedError

    def finish(self) -> list[Record]:
        """Records that can only be produced once every input has been seen."""
        return []

    def teardown(self) -> None:
        """Release what `setup` took."""

    def group_key(self, record: Record) -> str:
        """For a `whole_stream` stage: records with one key must meet in one copy of the stage."""
        return str(record.get("id"))

    def key(self, record: Record) -> str:
        """The input's identity for resume: inputs whose key is in the done ledger are skipped."""
        return str(record.get("id"))
