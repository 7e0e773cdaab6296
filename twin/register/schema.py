"""Create and extend the register tables from the asset-class files.

``sync`` runs after the Alembic revisions (``twin db migrate``): a new class file gets its
table, a new attribute its column, changed allowed values or ranges their CHECK constraint.
Changes that would lose data (a column removed from a file, a type changed) are refused with
a message; they need a hand-written Alembic revision. Identifiers come from the validated
class files only and are composed with :class:`psycopg.sql.Identifier`.
"""

from __future__ import annotations

import psycopg
from psycopg import sql

from twin._errors import ConfigError
from twin.register.catalog import (
    COMMON_COLUMNS,
    LIST_SEPARATOR,
    AssetClass,
    Attribute,
    classes,
)

SCHEMA = "register"
#: PostgreSQL type of each attribute type (as information_schema spells it).
SQL_TYPES = {
    "text": "text",
    "integer": "bigint",
    "number": "double precision",
    "boolean": "boolean",
    "date": "date",
    "list": "text",
}
DEFAULT_SOURCE = "Mestna občina Maribor, asset register"
DEFAULT_LICENCE = "municipal register (internal)"
#: Roles behind the app's roles (created by revision 0003).
VIEWER, EDITOR, ADMIN = "twin_viewer", "twin_editor", "twin_admin"


def _table(asset_class: AssetClass) -> sql.Identifier:
    return sql.Identifier(SCHEMA, asset_class.table)


def _check(attribute: Attribute) -> sql.Composable | None:
    """CHECK expression for an attribute's allowed values and range, or None."""
    column = sql.Identifier(attribute.name)
    parts: list[sql.Composable] = []
    if attribute.allowed is not None:
        allowed = sql.SQL("ARRAY[{}]::text[]").format(
            sql.SQL(", ").join(map(sql.Literal, attribute.allowed))
        )
        if attribute.type == "list":
            parts.append(
                sql.SQL("string_to_array({}, {}) <@ {}").format(
                    column, sql.Literal(LIST_SEPARATOR), allowed
                )
            )
        else:
            parts.append(sql.SQL("{} = ANY({})").format(column, allowed))
    if attribute.min is not None:
        parts.append(sql.SQL("{} >= {}").format(column, sql.Literal(attribute.min)))
    if attribute.max is not None:
        parts.append(sql.SQL("{} <= {}").format(column, sql.Literal(attribute.max)))
    if not parts:
        return None
    return sql.SQL(" AND ").join(parts)


def _constraint(asset_class: AssetClass, attribute: Attribute) -> sql.Identifier:
    return sql.Identifier(f"{asset_class.name}_{attribute.name}_check"[:63])


def _column(asset_class: AssetClass, attribute: Attribute, *, new_table: bool) -> sql.Composable:
    parts: list[sql.Composable] = [
        sql.Identifier(attribute.name),
        sql.SQL(SQL_TYPES[attribute.type]),
    ]
    if attribute.default is not None:
        default = attribute.default
        if attribute.type == "boolean":
            default = bool(default)
        parts.append(sql.SQL("DEFAULT {}").format(sql.Literal(default)))
    if attribute.required and (new_table or attribute.default is not None):
        parts.append(sql.SQL("NOT NULL"))
    check = _check(attribute)
    if check is not None:
        parts.append(
            sql.SQL("CONSTRAINT {} CHECK ({})").format(_constraint(asset_class, attribute), check)
        )
    return sql.SQL(" ").join(parts)


def _create(conn: psycopg.Connection, asset_class: AssetClass) -> None:
    name = asset_class.name
    states = sql.SQL(", ").join(map(sql.Literal, asset_class.states))
    common = sql.SQL(
        """
        id text PRIMARY KEY DEFAULT ({prefix} || nextval('register.asset_number')),
        name text,
        state text NOT NULL DEFAULT {state} CONSTRAINT {state_check} CHECK (state IN ({states})),
        parent_id text,
        synthetic boolean NOT NULL DEFAULT false,
        generator text,
        seed integer,
        source text NOT NULL DEFAULT {source},
        licence text NOT NULL DEFAULT {licence},
        version integer NOT NULL DEFAULT 1,
        changed_by text NOT NULL DEFAULT register.actor(),
        changed_at timestamptz NOT NULL DEFAULT now(),
        change_reason text DEFAULT register.reason()
        """
    ).format(
        prefix=sql.Literal(f"{name}:"),
        state=sql.Literal(asset_class.default_state),
        state_check=sql.Identifier(f"{name}_state_check"),
        states=states,
        source=sql.Literal(DEFAULT_SOURCE),
        licence=sql.Literal(DEFAULT_LICENCE),
    )
    columns = [common, *(_column(asset_class, a, new_table=True) for a in asset_class.attributes)]
    columns.append(
        sql.SQL("geom geometry({}, 3794) NOT NULL").format(sql.SQL(asset_class.geometry))
    )
    table = _table(asset_class)
    conn.execute(sql.SQL("CREATE TABLE {} ({})").format(table, sql.SQL(",\n").join(columns)))
    # Its validity CHECK (finite x/y for points, else ST_IsValid; revision 0009).
    conn.execute(
        "SELECT register.install_geom_valid(%s::regclass, %s)",
        (table.as_string(conn), f"{name}_geom_valid"),
    )
    conn.execute(
        sql.SQL("CREATE INDEX {} ON {} USING gist (geom)").format(
            sql.Identifier(f"{name}_geom_gix"), table
        )
    )
    conn.execute(
        sql.SQL("CREATE INDEX {} ON {} (parent_id) WHERE parent_id IS NOT NULL").format(
            sql.Identifier(f"{name}_parent_idx"), table
        )
    )
    # Before INSERT only for rows the column defaults did not stamp (revision 0008).
    conn.execute(
        "SELECT register.install_stamp_insert(%s::regclass, %s)",
        (table.as_string(conn), f"{name}_stamp_insert"),
    )
    conn.execute(
        sql.SQL(
            "CREATE TRIGGER {} BEFORE UPDATE ON {} FOR EACH ROW EXECUTE FUNCTION {}()"
        ).format(
            sql.Identifier(f"{name}_stamp_update"), table,
            sql.Identifier(SCHEMA, "stamp_update"),
        )
    )  # fmt: skip
    # After UPDATE with the rows as they were and are (revision 0009).
    conn.execute(
        "SELECT register.install_log_update(%s::regclass, %s)",
        (table.as_string(conn), f"{name}_log_update"),
    )
    for event, rows, function in (
        ("INSERT", "NEW TABLE AS new_rows", "log_insert"),
        ("DELETE", "OLD TABLE AS old_rows", "log_delete"),
    ):
        conn.execute(
            sql.SQL(
                "CREATE TRIGGER {} AFTER {} ON {} REFERENCING {} "
                "FOR EACH STATEMENT EXECUTE FUNCTION {}()"
            ).format(
                sql.Identifier(f"{name}_{function}"), sql.SQL(event), table, sql.SQL(rows),
                sql.Identifier(SCHEMA, function),
            )
        )  # fmt: skip


def _existing_columns(conn: psycopg.Connection, table: str) -> dict[str, str]:
    rows = conn.execute(
        "SELECT column_name, data_type FROM information_schema.columns "
        "WHERE table_schema = %s AND table_name = %s",
        (SCHEMA, table),
    ).fetchall()
    return {str(name): str(kind) for name, kind in rows}


def _extend(
    conn: psycopg.Connection, asset_class: AssetClass, present: dict[str, str]
) -> list[str]:
    """Add new attribute columns and refresh CHECK constraints; refuse lossy changes."""
    done = []
    table = _table(asset_class)
    declared = {a.name for a in asset_class.attributes} | set(COMMON_COLUMNS)
    dropped = sorted(set(present) - declared)
    if dropped:
        raise ConfigError(
            f"assets/{asset_class.name}.toml no longer declares {', '.join(dropped)} but "
            f"register.{asset_class.name} holds those columns; removing data needs an Alembic "
            "revision (or put the attributes back)"
        )
    for attribute in asset_class.attributes:
        wanted = SQL_TYPES[attribute.type]
        if attribute.name not in present:
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD COLUMN {}").format(
                    table, _column(asset_class, attribute, new_table=False)
                )
            )
            done.append(f"register.{asset_class.name}: added column {attribute.name}")
            continue
        if present[attribute.name] != wanted:
            raise ConfigError(
                f"assets/{asset_class.name}.toml: {attribute.name} is {attribute.type} "
                f"({wanted}) but the table column is {present[attribute.name]}; changing a "
                "column's type needs an Alembic revision"
            )
        constraint = _constraint(asset_class, attribute)
        conn.execute(
            sql.SQL("ALTER TABLE {} DROP CONSTRAINT IF EXISTS {}").format(table, constraint)
        )
        check = _check(attribute)
        if check is not None:
            conn.execute(
                sql.SQL("ALTER TABLE {} ADD CONSTRAINT {} CHECK ({})").format(
                    table, constraint, check
                )
            )
    return done


def _identifier_indexes(conn: psycopg.Connection, asset_class: AssetClass) -> None:
    """Make each external identifier unique (checked at the end of each statement).

    Deferrable constraints rather than plain unique indexes, so that one statement may move
    an identifier from one row to another (a merge that renumbers rows).
    """
    for attribute in asset_class.identifiers:
        name = f"{asset_class.name}_{attribute.name}_key"[:63]
        exists = conn.execute(
            "SELECT 1 FROM pg_constraint WHERE conname = %s AND conrelid = to_regclass(%s)",
            (name, f"{SCHEMA}.{asset_class.table}"),
        ).fetchone()
        if exists:
            continue
        conn.execute(sql.SQL("DROP INDEX IF EXISTS {}").format(sql.Identifier(SCHEMA, name)))
        conn.execute(
            sql.SQL(
                "ALTER TABLE {} ADD CONSTRAINT {} UNIQUE ({}) DEFERRABLE INITIALLY IMMEDIATE"
            ).format(_table(asset_class), sql.Identifier(name), sql.Identifier(attribute.name))
        )


def _comments(conn: psycopg.Connection, asset_class: AssetClass) -> None:
    table = _table(asset_class)
    title = asset_class.title + (f" ({asset_class.title_sl})" if asset_class.title_sl else "")
    conn.execute(
        sql.SQL("COMMENT ON TABLE {} IS {}").format(
            table, sql.Literal(f"{title}. {asset_class.description}".strip())
        )
    )
    for attribute in asset_class.attributes:
        text = attribute.title
        if attribute.codespace:
            text += f"; external identifier, codespace {attribute.codespace}"
        if attribute.type == "list":
            text += f"; list, items separated by '{LIST_SEPARATOR}'"
        conn.execute(
            sql.SQL("COMMENT ON COLUMN {}.{} IS {}").format(
                table, sql.Identifier(attribute.name), sql.Literal(text)
            )
        )


def _roles(conn: psycopg.Connection) -> set[str]:
    rows = conn.execute(
        "SELECT rolname FROM pg_roles WHERE rolname = ANY(%s)", ([VIEWER, EDITOR, ADMIN],)
    ).fetchall()
    return {str(r[0]) for r in rows}


def _grant(conn: psycopg.Connection, tables: list[sql.Identifier]) -> None:
    if _roles(conn) != {VIEWER, EDITOR, ADMIN}:
        return
    viewer, editor, admin = map(sql.Identifier, (VIEWER, EDITOR, ADMIN))
    conn.execute(sql.SQL("GRANT USAGE ON SCHEMA twin, register TO {}").format(viewer))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA twin TO {}").format(viewer))
    conn.execute(sql.SQL("GRANT SELECT ON ALL TABLES IN SCHEMA register TO {}").format(viewer))
    conn.execute(sql.SQL("REVOKE ALL ON register.users FROM {}, {}").format(viewer, editor))
    conn.execute(
        sql.SQL("GRANT SELECT, INSERT, UPDATE, DELETE ON register.users TO {}").format(admin)
    )
    conn.execute(sql.SQL("GRANT USAGE ON SEQUENCE register.asset_number TO {}").format(editor))
    conn.execute(
        sql.SQL(
            "GRANT EXECUTE ON FUNCTION register.defer_spatial_index(regclass, bigint) TO {}"
        ).format(editor)
    )
    for table in tables:
        conn.execute(sql.SQL("GRANT INSERT, UPDATE, DELETE ON {} TO {}").format(table, editor))


def _assets_view(conn: psycopg.Connection, found: dict[str, AssetClass]) -> None:
    """``register.assets``: every class's common columns in one view (search, show, history)."""
    parts = [
        sql.SQL(
            "SELECT {cls}::text AS class, id, name, state, parent_id, synthetic, source, "
            "licence, version, changed_by, changed_at, geom::geometry(Geometry, 3794) AS geom "
            "FROM {table}"
        ).format(cls=sql.Literal(c.name), table=_table(c))
        for c in found.values()
    ]
    conn.execute("DROP VIEW IF EXISTS register.assets")
    if parts:
        conn.execute(
            sql.SQL("CREATE VIEW register.assets AS {}").format(sql.SQL(" UNION ALL ").join(parts))
        )
        conn.execute(
            "COMMENT ON VIEW register.assets IS "
            "'Every asset of every class: id, class, name, state, parent, version, geometry.'"
        )


def sync(conn: psycopg.Connection, found: dict[str, AssetClass] | None = None) -> list[str]:
    """Bring the register tables in line with the class files (inside the caller's transaction).

    Returns
    -------
    list of str
        What changed, one line per table or column (empty when nothing did).

    Raises
    ------
    ConfigError
        When a class file would need a lossy change (dropped column, changed type).
    """
    found = classes() if found is None else found
    done: list[str] = []
    for asset_class in found.values():
        present = _existing_columns(conn, asset_class.table)
        if not present:
            _create(conn, asset_class)
            done.append(f"register.{asset_class.name}: created")
        else:
            done += _extend(conn, asset_class, present)
        _identifier_indexes(conn, asset_class)
        _comments(conn, asset_class)
    _assets_view(conn, found)
    _grant(conn, [_table(c) for c in found.values()])
    return done
