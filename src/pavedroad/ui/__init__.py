"""The web dashboard: sessions, charts and pages (served by api/ui_routes.py)."""
