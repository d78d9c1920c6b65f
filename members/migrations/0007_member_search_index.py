"""A trigram index for the member search, on PostgreSQL.

The member list, My book and the API's ``?q=`` find members whose name, email or external id
contains the text, ignoring case (``icontains``), which PostgreSQL runs as
``UPPER(column::text) LIKE UPPER(pattern)``. Without an index every search upper-cases the
three columns of every member of the organization, once for its count and again for its page
(~8 ms each for 10,000 members). A GIN index of the trigrams of exactly those three expressions
answers a pattern of three characters or more from the index (0.02-1.5 ms on the load data);
shorter ones still read the table. Each row the index proposes is checked again against the
pattern and the organization, so a search finds exactly what it found before.

A GIN index over trigrams cannot begin with the organization as the other member indexes do
(that would take the btree_gin extension, and with the search's OR of three columns PostgreSQL
filters on the organization after the index anyway). Neither GIN nor trigrams exist on SQLite,
so Django's model state does not know the index: it is created and dropped here alone.
"""

from django.db import migrations

INDEX = "member_search_trgm"


def create_search_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor != "postgresql":
        return
    # pg_trgm ships with PostgreSQL's contrib modules and is a trusted extension: the
    # database's owner may create it.
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        f"CREATE INDEX IF NOT EXISTS {INDEX} ON members_member USING gin ("
        "UPPER(name::text) gin_trgm_ops, UPPER(email::text) gin_trgm_ops, "
        "UPPER(external_id::text) gin_trgm_ops)"
    )


def drop_search_index(apps, schema_editor) -> None:
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [("members", "0006_list_indexes")]

    operations = [migrations.RunPython(create_search_index, drop_search_index)]
