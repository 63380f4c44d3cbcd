"""Lists for the REST API's reads, keyset-paged (a cursor is the last row's key, so a page
never repeats or skips a row because others were inserted meanwhile): contacts (by e-mail
prefix or fragment, or by a custom field's value), products, purchases by date range.
Items have the shapes of the single reads (`reads.contact_by_email`, `product_by_id`,
`purchase_by_id`)."""

from __future__ import annotations

from typing import Any

from shopevents.storage import reads
from shopevents.storage.database import Conn

MAX_LIMIT = 500


def _like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contacts(
    conn: Conn,
    store_id: str,
    *,
    email_prefix: str | None = None,
    email_contains: str | None = None,
    field: tuple[str, str] | None = None,
    after: str = "",
    limit: int = 50,
) -> list[dict[str, Any]]:
    """Identified contacts that are not merged into another, in id order (ids grow with
    creation time)."""
    sql = (
        f"SELECT {reads.CONTACT_COLS} FROM contacts WHERE store_id = ? AND email IS NOT NULL "
        "AND merged_into IS NULL AND id > ?"
    )
    params: list[Any] = [store_id, after]
    if email_prefix:
        sql += " AND email LIKE ? ESCAPE '\\'"
        params.append(_like(email_prefix.strip().lower()) + "%")
    if email_contains:
        sql += " AND email LIKE ? ESCAPE '\\'"
        params.append("%" + _like(email_contains.strip().lower()) + "%")
    if field is not None:
        name, value = field
        if conn.dialect == "postgres":
            sql += " AND (fields::jsonb ->> ?) = ?"
            params += [name, value]
        else:
            sql += " AND CAST(json_extract(fields, ?) AS TEXT) = ?"
            params += ['$."' + name.replace('"', '\\"') + '"', value]
    sql += " ORDER BY id LIMIT ?"
    params.append(limit)
    return [reads.contact_view(conn, r) for r in conn.all(sql, params)]


def products(
    conn: Conn, store_id: str, *, contains: str | None = None, after: str = "", limit: int = 50
) -> list[dict[str, Any]]:
    """The catalog in productId order; `contains`: in the id or the name (any case)."""
    sql = f"SELECT {reads.PRODUCT_COLS} FROM products WHERE store_id = ? AND product_id > ?"
    params: list[Any] = [store_id, after]
    if contains:
        like = "%" + _like(contains.strip().lower()) + "%"
        sql += " AND (LOWER(name) LIKE ? ESCAPE '\\' OR LOWER(product_id) LIKE ? ESCAPE '\\')"
        params += [like, like]
    sql += " ORDER BY product_id LIMIT ?"
    params.append(limit)
    return [reads.product_view(r) for r in conn.all(sql, params)]


def purchases(
    conn: Conn,
    store_id: str,
    *,
    bounds: tuple[int, int] | None,
    after: tuple[int, int] = (-(2**62), 0),
    limit: int = 50,
) -> list[tuple[int, int, dict[str, Any]]]:
    """Purchases by purchase date, oldest first: (purchased_at, row id, purchase)."""
    sql = (
        f"SELECT {reads.PURCHASE_COLS} FROM purchases p LEFT JOIN contacts c ON c.id = p.contact_id "
        "WHERE p.store_id = ? AND (p.purchased_at > ? OR (p.purchased_at = ? AND p.id > ?))"
    )
    params: list[Any] = [store_id, after[0], after[0], after[1]]
    if bounds is not None:
        sql += " AND p.purchased_at >= ? AND p.purchased_at < ?"
        params += [bounds[0], bounds[1]]
    sql += " ORDER BY p.purchased_at, p.id LIMIT ?"
    params.append(limit)
    return [(int(r[5]), int(r[0]), reads.purchase_view(r)) for r in conn.all(sql, params)]
