"""Names and text written into SQL where a parameter cannot go (table and column names, comments,
ATTACH options): quoted so that nothing in them can end the literal."""


def sql_name(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def sql_text(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def comment_on(table: str, column: str | None, text: str) -> str:
    """The statement describing `table` (or its `column`) as `text`."""
    target = f"TABLE {sql_name(table)}" if column is None else f"COLUMN {sql_name(table)}.{sql_name(column)}"
    return f"COMMENT ON {target} IS {sql_text(text)}"
