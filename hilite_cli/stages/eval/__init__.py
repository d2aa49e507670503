"""`hilite eval`: an editor judged on GEdit-Bench (VIEScore SC/PQ/O, 0-10) or ImgEdit-Bench (three
1-5 axes), per category, as in NHR Tables 5 and 6.

Modules: `benchmarks` (items from a hub id or a local folder, and where edited images live),
`errors` (BenchmarkError, shared by `benchmarks` and `hub_archive` without a circle),
`hub_archive` (a benchmark shipped as an archive in a hub dataset repo: fetched, unpacked once,
searched), `judge_prompts` (the benchmarks' own judge prompts: VIEScore's bundled, ImgEdit's from
the user's copy), `protocols` (the asks and the strict parsing of each protocol), `aggregate`
(per-category tables, weaknesses as category weights for `mine --schedule adaptive`), `gate` (the
regression gate) and `run` (edit, judge, write, resume).
"""
