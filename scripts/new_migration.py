"""Autogenerate a migration from the models: ``python scripts/new_migration.py "message"``.

Builds a scratch SQLite database at the current head, compares it with the
models and writes the difference as a new revision under
``src/puente/migrations/versions``. Review the file before committing it.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from alembic import command

from puente.migrate import alembic_config, upgrade

message = sys.argv[1] if len(sys.argv) > 1 else "change"
with tempfile.TemporaryDirectory() as tmp:
    url = f"sqlite:///{Path(tmp) / 'scratch.db'}"
    upgrade(url)
    command.revision(alembic_config(url), message=message, autogenerate=True)
