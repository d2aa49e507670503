"""`hilite studio`: HILITE's platform as a local web app (Starlette + uvicorn, server-rendered pages)."""
