"""The web view `fleetsync api` serves at `/`: server-rendered pages (Jinja2 templates) over the
same read model as the CLI and the API, and one small hand-written script for live updates,
actions and the API token. Every asset ships in the wheel: no CDN, no build step.
"""
