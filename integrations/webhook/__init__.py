"""Zoom's webhook, receiving side: plain Python and FastAPI, no Prefect.

- `signature`: Zoom's request signature (`sign`, `verify_request`) and the URL challenge.
- `events`: the event names, what a `recording.completed` hands on, deduplication keys.
- `recent`: the memory of events already accepted (Zoom delivers some more than once).
- `app`: the FastAPI app (`create_app`) that puts these together, and `serve` with uvicorn.
- `errors`: what a rejected request or event raises.

What an accepted `recording.completed` leads to (the instance stored, a pipeline run started)
uses the store and Prefect, so it is a flows module: `flows/webhook_runs.py`.
"""
