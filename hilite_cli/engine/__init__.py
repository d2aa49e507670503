"""Executors that run a stage over a manifest: `local` (default) and `ray`."""
