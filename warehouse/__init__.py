"""The published warehouse: tables declared in YAML and computed by the SQL in sql/."""

from pathlib import Path

SQL_DIR = Path(__file__).parent / "sql"
