"""New readers written many at a time: a list import's chunk in one statement.

The rows arrive validated and unique within the chunk. An address already on
the list (in any status) or suppressed is never written, never changed:
``subscribers_insert`` says which those were and writes the rest.

On PostgreSQL a chunk is one statement and one round trip: the rows go as
one JSON document, read back as typed rows in the database, which looks up
the addresses already taken or suppressed and writes the other readers, their
category choices and their consent records together. Nothing is prepared
value by value in Python for the columns every row shares (status, source,
timestamps, defaults), and only the ids come back. Django's ``bulk_create``
prepares every field of every row and needs a model instance per row: at
100,000 rows that, and a look-up query or two per chunk, was most of an
import's time. Other databases (SQLite, on a laptop) take the portable path:
two look-ups and ``bulk_create``.

What each row gets is still the model's business: the shared columns come
from a model instance built once per chunk (its defaults, ``auto_now_add``
and the status fields given), and a field with a callable default (the
reader's key) is called once per row, as Django would.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from django.db import connection
from django.db.models.functions import Lower

from digests.models import Category, Consent, Subscriber, Suppression
from digests.readers.insert_parts import insert_parts
from digests.readers.normalise import email_key
from digests.readers.privacy import address_hash, addresses_suppressed

SUPPRESSED = "suppressed"  # what subscribers_insert says of a suppressed address; else the status it has


@dataclass
class NewReader:
    email: str
    name: str
    categories: list[Category]
    timezone: str
    language: str
    frequency: str = Subscriber.Frequency.DAILY
    weekly_day: str = Subscriber.Weekday.SAT
    # Given by subscribers_insert to the readers it wrote.
    pk: int | None = field(default=None, init=False)
    key: object = field(default=None, init=False)


# The columns a NewReader gives, row by row; with its key, the only ones not the same for the whole chunk.
ROW_FIELDS = ("email", "name", "timezone", "language", "frequency", "weekly_day")


def subscribers_insert(readers: list[NewReader], *, fields: dict, consent: dict | None) -> dict[int, str]:
    """Write the ``readers`` whose address is new, each with ``fields`` (status and its dates), their
    categories and, when ``consent`` is given, a Consent with those fields; sets each one's pk and key.

    Returns the readers not written, by index: SUPPRESSED, or the status of the reader already on the
    list. Raises IntegrityError, writing nothing, when an address is taken meanwhile (a signup racing).
    """
    if not readers:
        return {}
    key = Subscriber._meta.get_field("key")
    for reader in readers:
        reader.pk, reader.key = None, key.get_default()
    if connection.vendor == "postgresql":
        return _insert_postgresql(readers, fields, consent)
    return _insert_portable(readers, fields, consent)


def subscriber_of(reader: NewReader, fields: dict) -> Subscriber:
    """The model instance for a reader ``subscribers_insert`` wrote, for what needs one (a confirmation, an event)."""
    values = {name: getattr(reader, name) for name in ROW_FIELDS}
    return Subscriber(pk=reader.pk, key=reader.key, source=Subscriber.Source.IMPORT, **values, **fields)


def _insert_portable(readers: list[NewReader], fields: dict, consent: dict | None) -> dict[int, str]:
    keys = {email_key(r.email): index for index, r in enumerate(readers)}
    taken = Subscriber.objects.annotate(email_ci=Lower("email")).filter(email_ci__any=list(keys))
    refused = {keys[address]: status for address, status in taken.values_list("email_ci", "status")}
    suppressed = addresses_suppressed([r.email for index, r in enumerate(readers) if index not in refused])
    refused.update({index: SUPPRESSED for index, r in enumerate(readers) if r.email in suppressed})
    fresh = [r for index, r in enumerate(readers) if index not in refused]
    made = Subscriber.objects.bulk_create([subscriber_of(r, fields) for r in fresh])
    for reader, subscriber in zip(fresh, made, strict=True):
        reader.pk = subscriber.pk
    through = Subscriber.categories.through
    through.objects.bulk_create(
        [through(subscriber_id=r.pk, category_id=c.pk) for r in fresh for c in dict.fromkeys(r.categories)]
    )
    if consent is not None:
        Consent.objects.bulk_create([Consent(subscriber_id=r.pk, **consent) for r in fresh])
    return refused


def _insert_postgresql(readers: list[NewReader], fields: dict, consent: dict | None) -> dict[int, str]:
    quote = connection.ops.quote_name
    meta = Subscriber._meta
    key_field = meta.get_field("key")
    given = [meta.get_field(name) for name in ROW_FIELDS]
    row_fields = [*given, key_field]
    template = Subscriber(source=Subscriber.Source.IMPORT, **fields)  # the columns every reader of the chunk shares
    shared_columns, shared_values, params = insert_parts(template, leave_out=(*ROW_FIELDS, "key"))
    # One JSON document: psycopg adapts one string at C speed, where typed arrays cost a Python call
    # per element, and the database parses it into the column types named below.
    rows = json.dumps(
        [
            {
                "n": n,
                "category_ids": list(dict.fromkeys(c.pk for c in reader.categories)),  # a category named twice is one
                "email_hash": address_hash(reader.email),
                **{f.column: getattr(reader, f.attname) for f in given},
                key_field.column: str(reader.key),
            }
            for n, reader in enumerate(readers)
        ],
        ensure_ascii=False,
    )
    types = ", ".join(f"{quote(f.column)} {f.db_type(connection)}" for f in row_fields)
    columns = ", ".join([quote(f.column) for f in row_fields] + [shared_columns])
    values = ", ".join([f"r.{quote(f.column)}" for f in row_fields] + [shared_values])
    key, email = quote(key_field.column), quote(meta.get_field("email").column)
    m2m = meta.get_field("categories")
    params = [rows, *params]
    suppression = Suppression._meta
    # lower(email) is what the unique index on subscribers compares; a taken address is never touched.
    sql = f"""
        WITH r AS (
            SELECT * FROM json_to_recordset(%s::json) AS r(n integer, category_ids json, email_hash text, {types})
        ), taken AS (
            SELECT r.n, s.{quote(meta.get_field("status").column)} AS refusal
            FROM r JOIN {quote(meta.db_table)} s ON lower(s.{email}) = lower(r.{email})
        ), barred AS (
            SELECT r.n, '{SUPPRESSED}' AS refusal FROM r
            WHERE r.n NOT IN (SELECT n FROM taken) AND EXISTS (
                SELECT FROM {quote(suppression.db_table)} x
                WHERE x.{quote(suppression.get_field("email_hash").column)} = r.email_hash
            )
        ), fresh AS (
            SELECT * FROM r WHERE r.n NOT IN (SELECT n FROM taken UNION ALL SELECT n FROM barred)
        ), made AS (
            INSERT INTO {quote(meta.db_table)} ({columns})
            SELECT {values} FROM fresh r ORDER BY r.n
            RETURNING {quote(meta.pk.column)} AS id, {key}
        ), chosen AS (
            INSERT INTO {quote(m2m.m2m_db_table())} ({quote(m2m.m2m_column_name())}, {quote(m2m.m2m_reverse_name())})
            SELECT made.id, c.category_id::integer
            FROM made JOIN fresh USING ({key}) CROSS JOIN LATERAL json_array_elements_text(fresh.category_ids) AS c(category_id)
        ){_consent_cte(consent, params)}
        SELECT fresh.n, made.id, NULL FROM made JOIN fresh USING ({key})
        UNION ALL SELECT n, NULL, refusal FROM taken
        UNION ALL SELECT n, NULL, refusal FROM barred
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        outcome = cursor.fetchall()
    refused = {}
    for n, pk, refusal in outcome:
        if pk is None:
            refused[n] = refusal
        else:
            readers[n].pk = pk
    return refused


def _consent_cte(consent: dict | None, params: list) -> str:
    if consent is None:
        return ""
    quote = connection.ops.quote_name
    columns, values, values_params = insert_parts(Consent(**consent), leave_out=("subscriber",))
    params += values_params
    return f""", consents AS (
            INSERT INTO {quote(Consent._meta.db_table)} ({quote(Consent._meta.get_field("subscriber").column)}, {columns})
            SELECT made.id, {values} FROM made
        )"""
