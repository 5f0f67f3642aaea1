"""Adapters behind the storage ports: the embedded defaults (a folder, SQLite) and a team's (PostgreSQL, S3)."""
