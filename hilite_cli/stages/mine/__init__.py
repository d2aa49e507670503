"""`mine`: NHR's autonomous triplet-mining pipeline (paper 3.1, 3.5, Algorithms 1-2).

Modules, in pipeline order: `inputs` (specs, tasks, photo folders), `design` (Algorithm 1 with
prompt A.1), `sources` (T2I seeds at random resolutions, real photos, the A.5 plausibility gate),
`jobs` (the (source, instruction, seed) queue, its seeded scheduler and the state file),
`prefilter` (A.2 thresholds, A.3, A.4, low-level check), `pipeline` (orchestration, GPU work
overlapped with provider calls) and `stats` (Table-3 survival counts).
"""
