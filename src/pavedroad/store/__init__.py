"""Repositories over SQLAlchemy (SQLite embedded, PostgreSQL scale-out) and migrations."""
