"""``pk__any=ids`` (or ``email_hash__any=hashes``): a list as one array parameter (``= ANY(%s)``) on PostgreSQL.

A batch's claim, re-check and record name its 1,000 ledger rows by id several
times. ``pk__in`` makes that 1,000 query parameters, each prepared by Django's
``In`` lookup and then quoted into the SQL by psycopg, in Python: a fifth of a
Mailgun worker's time. As one array the list is adapted once. Other databases
get ``IN`` as before. The array goes as one text literal (``'{1,2,3}'::bigint[]``), built
by ``str.join`` rather than adapted element by element. A list import looks up
its chunk's 2,000 addresses (and their hashes) the same way, as one text array.
"""

from __future__ import annotations

from django.db.models import BigAutoField, CharField, Lookup
from django.db.models.lookups import In


class AnyOf(Lookup):
    lookup_name = "any"
    prepare_rhs = False

    def as_sql(self, compiler, connection):
        if connection.vendor != "postgresql":
            return In(self.lhs, list(self.rhs)).as_sql(compiler, connection)
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} = ANY({rhs})", (*lhs_params, *rhs_params)


@BigAutoField.register_lookup
class IdAnyOf(AnyOf):
    def get_db_prep_lookup(self, value, connection):
        # Reached on PostgreSQL only (``as_sql`` hands other databases to ``In``). One text literal cast
        # to an array: psycopg would quote a list element by element, in Python.
        return "%s::bigint[]", ["{" + ",".join(str(int(pk)) for pk in value) + "}"]


@CharField.register_lookup
class TextAnyOf(AnyOf):
    def get_db_prep_lookup(self, value, connection):
        # Strings need quoting, so psycopg adapts this list; still one parameter, not one per string.
        return "%s::text[]", [[str(text) for text in value]]
