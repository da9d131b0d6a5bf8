import django.db.models.deletion
from django.db import migrations, models

# The ledger's two foreign keys were checked one row at a time at the commit
# (a lookup and a row lock of the reader and of the digest per row): about a
# third of the audience snapshot's time (bench_snapshot). Django cascades on
# its own (on_delete stays CASCADE), and on PostgreSQL these statement-level
# triggers keep what the constraints guaranteed for any SQL, checked once per
# statement over all its rows:
#
# * rows inserted into the ledger must name an existing reader and digest;
# * a delete of readers or digests that leaves a ledger row naming one fails
#   (as the constraint's NO ACTION did; the ORM deletes those rows first);
# * a ledger row's reader and digest never change, nor do readers' and
#   digests' ids, and truncating readers or digests under a non-empty ledger fails.
#
# What the row locks of the constraints did against a concurrent delete, one
# advisory lock does, taken by each check before it looks and held to the
# commit: shared by the ledger's inserts (snapshots run side by side),
# exclusive by a delete of readers or digests. Of a snapshot and a delete that
# overlap, the one that checks second does so after the other committed, and
# sees its work (READ COMMITTED, Django's default: each check reads what is
# committed when it runs): a snapshot that read a reader the delete removed
# fails, as a delete that would leave the snapshot's rows behind does. The
# delete takes the lock after its rows are deleted (and row-locked), so a
# delete of a digest waiting for its start's row lock cannot deadlock with it.
LEDGER_REFERENCES_LOCK = 0x6C65646765720F  # "ledger", 15

INTEGRITY_ON = f"""
CREATE OR REPLACE FUNCTION digests_delivery_references_exist() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock_shared({LEDGER_REFERENCES_LOCK});
    IF EXISTS (SELECT FROM new_rows n WHERE NOT EXISTS (SELECT FROM digests_subscriber s WHERE s.id = n.subscriber_id)) THEN
        RAISE EXCEPTION 'a delivery names a subscriber that does not exist'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'digests_delivery';
    END IF;
    IF EXISTS (SELECT FROM new_rows n WHERE NOT EXISTS (SELECT FROM digests_digest g WHERE g.id = n.digest_id)) THEN
        RAISE EXCEPTION 'a delivery names a digest that does not exist'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'digests_delivery';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER digests_delivery_references_insert AFTER INSERT ON digests_delivery
    REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION digests_delivery_references_exist();

CREATE OR REPLACE FUNCTION digests_delivery_references_fixed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '%: % never changes', TG_TABLE_NAME, TG_ARGV[0]
        USING ERRCODE = 'foreign_key_violation', TABLE = TG_TABLE_NAME;
END;
$$;
CREATE TRIGGER digests_delivery_references_fixed BEFORE UPDATE OF digest_id, subscriber_id ON digests_delivery
    FOR EACH ROW WHEN (OLD.digest_id <> NEW.digest_id OR OLD.subscriber_id <> NEW.subscriber_id)
    EXECUTE FUNCTION digests_delivery_references_fixed('a delivery''s digest or subscriber');
CREATE TRIGGER digests_subscriber_id_fixed BEFORE UPDATE OF id ON digests_subscriber
    FOR EACH ROW WHEN (OLD.id <> NEW.id) EXECUTE FUNCTION digests_delivery_references_fixed('id');
CREATE TRIGGER digests_digest_id_fixed BEFORE UPDATE OF id ON digests_digest
    FOR EACH ROW WHEN (OLD.id <> NEW.id) EXECUTE FUNCTION digests_delivery_references_fixed('id');

CREATE OR REPLACE FUNCTION digests_delivery_references_kept() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_advisory_xact_lock({LEDGER_REFERENCES_LOCK});
    IF TG_OP = 'TRUNCATE' THEN
        -- After every table of the statement was emptied: truncating the ledger with them is fine.
        IF EXISTS (SELECT FROM digests_delivery) THEN
            RAISE EXCEPTION 'truncating % would leave deliveries without it', TG_TABLE_NAME
                USING ERRCODE = 'foreign_key_violation', TABLE = 'digests_delivery';
        END IF;
    ELSIF TG_TABLE_NAME = 'digests_subscriber' THEN
        IF EXISTS (SELECT FROM old_rows o JOIN digests_delivery d ON d.subscriber_id = o.id) THEN
            RAISE EXCEPTION 'deleting a subscriber would leave their deliveries behind'
                USING ERRCODE = 'foreign_key_violation', TABLE = 'digests_delivery';
        END IF;
    ELSIF EXISTS (SELECT FROM old_rows o JOIN digests_delivery d ON d.digest_id = o.id) THEN
        RAISE EXCEPTION 'deleting a digest would leave its deliveries behind'
            USING ERRCODE = 'foreign_key_violation', TABLE = 'digests_delivery';
    END IF;
    RETURN NULL;
END;
$$;
CREATE TRIGGER digests_subscriber_delete_kept AFTER DELETE ON digests_subscriber
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION digests_delivery_references_kept();
CREATE TRIGGER digests_subscriber_truncate_kept AFTER TRUNCATE ON digests_subscriber
    FOR EACH STATEMENT EXECUTE FUNCTION digests_delivery_references_kept();
CREATE TRIGGER digests_digest_delete_kept AFTER DELETE ON digests_digest
    REFERENCING OLD TABLE AS old_rows FOR EACH STATEMENT EXECUTE FUNCTION digests_delivery_references_kept();
CREATE TRIGGER digests_digest_truncate_kept AFTER TRUNCATE ON digests_digest
    FOR EACH STATEMENT EXECUTE FUNCTION digests_delivery_references_kept();

-- The due index leads with the digest and the status; byte comparison instead
-- of the locale's (the index is rebuilt, under a lock: run this outside a send).
ALTER TABLE digests_delivery ALTER COLUMN status TYPE varchar(20) COLLATE "C";
"""

INTEGRITY_OFF = """
ALTER TABLE digests_delivery ALTER COLUMN status TYPE varchar(20) COLLATE "default";
DROP TRIGGER IF EXISTS digests_digest_truncate_kept ON digests_digest;
DROP TRIGGER IF EXISTS digests_digest_delete_kept ON digests_digest;
DROP TRIGGER IF EXISTS digests_subscriber_truncate_kept ON digests_subscriber;
DROP TRIGGER IF EXISTS digests_subscriber_delete_kept ON digests_subscriber;
DROP TRIGGER IF EXISTS digests_digest_id_fixed ON digests_digest;
DROP TRIGGER IF EXISTS digests_subscriber_id_fixed ON digests_subscriber;
DROP TRIGGER IF EXISTS digests_delivery_references_fixed ON digests_delivery;
DROP TRIGGER IF EXISTS digests_delivery_references_insert ON digests_delivery;
DROP FUNCTION IF EXISTS digests_delivery_references_kept();
DROP FUNCTION IF EXISTS digests_delivery_references_fixed();
DROP FUNCTION IF EXISTS digests_delivery_references_exist();
"""


def integrity_on(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INTEGRITY_ON, params=None)


def integrity_off(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(INTEGRITY_OFF, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("digests", "0014_ledger_reader_index"),
    ]

    operations = [
        migrations.AlterField(
            model_name="delivery",
            name="digest",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="digests.digest",
                verbose_name="digest",
            ),
        ),
        migrations.AlterField(
            model_name="delivery",
            name="subscriber",
            field=models.ForeignKey(
                db_constraint=False,
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="deliveries",
                to="digests.subscriber",
                verbose_name="subscriber",
            ),
        ),
        migrations.RunPython(integrity_on, integrity_off),
    ]
