"""The columns, placeholders and values of an INSERT of a model row as ``save()`` would write it.

For the statements that write readers in one round trip (a signup, a list
import's chunk): the values still come from the model (defaults,
``auto_now_add``), only the SQL around them is ours.
"""

from __future__ import annotations

import functools

from django.db import connection, models

TEXT = ("CharField", "EmailField", "TextField", "SlugField")


def insert_parts(row: models.Model, *, leave_out: tuple[str, ...] = ()) -> tuple[str, str, list]:
    """The quoted columns, the value placeholders and the parameters of ``row``'s INSERT, but for the
    primary key and the fields named in ``leave_out`` (the statement gives those itself)."""
    columns, values, fields = insert_columns(type(row), leave_out)
    return columns, values, [f.get_db_prep_save(f.pre_save(row, True), connection) for f in fields]


@functools.cache
def insert_columns(model: type[models.Model], leave_out: tuple[str, ...] = ()) -> tuple[str, str, list[models.Field]]:
    # Every value is cast to its column's type: in ``INSERT … SELECT`` PostgreSQL would otherwise take
    # an untyped literal for text. Text columns are left uncast, so a value too long for its column
    # fails as it would through the ORM rather than being cut short by the cast.
    fields = [f for f in model._meta.concrete_fields if not f.primary_key and f.name not in leave_out]
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = ", ".join("%s" if f.get_internal_type() in TEXT else f"CAST(%s AS {f.db_type(connection)})" for f in fields)
    return columns, values, fields
