"""Provider Batch APIs (`--batch-api`): the Asks a stage hands to `ask_many` go out as batch jobs.

`runner.BatchRunner` owns the flow every backend shares (submit, persist the job id, wait, collect,
recover); `gemini.GeminiBatches` and `openai.OpenAIBatches` speak the two wire formats through the
real SDKs; `state.BatchState` is the `<output>.batches.jsonl` ledger that keeps a killed run from
paying twice.
"""
