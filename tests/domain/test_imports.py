"""Bulk import over real HTTP on both backends (and the CLI): products and contacts from CSV
and JSON Lines, idempotent, updated by key, a per-row error report with nothing written,
undone whole when a transaction fails; exports streamed with the CLI's rows, cursor-paged."""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner

from shopevents.cli import main
from shopevents.clock import SystemClock
from shopevents.config import Settings, WorkerSettings
from shopevents.domain import import_checks, import_files, import_plan, import_undo
from shopevents.errors import StorageUnavailable
from shopevents.storage.database import Database
from tests.conftest import (
    BACKENDS,
    LiveServer,
    StoreInfo,
    make_store,
    migrated_database_url,
)
from tests.dashboard.support import add_user, login


class Env:
    def __init__(self, url: str, db: Database, http: httpx.Client) -> None:
        self.url = url
        self.db = db
        self.http = http

    def q(self, sql: str, params: tuple[Any, ...] = ()) -> list[Any]:
        conn = self.db.connect()
        try:
            return conn.all(sql, params)
        finally:
            conn.close()

    def store(self, **kw: Any) -> StoreInfo:
        return make_store(self.db, f"bulk-{time.time_ns()}", **kw)


@pytest.fixture(scope="module", params=BACKENDS)
def env(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Env]:
    with migrated_database_url(request.param, tmp_path_factory.mktemp("bulk")) as url:
        db = Database(url)
        live = LiveServer(Settings(worker=WorkerSettings(enabled=False)), db, SystemClock()).start()
        try:
            with httpx.Client(base_url=live.url, timeout=120) as http:
                yield Env(url, db, http)
        finally:
            live.stop()
            db.close()


def products_csv(rows: list[dict[str, Any]]) -> bytes:
    cols: list[str] = []
    for r in rows:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, cols, lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    return buf.getvalue().encode()


def jsonl(rows: list[dict[str, Any]]) -> bytes:
    return "".join(json.dumps(r) + "\n" for r in rows).encode()


def product(i: int, **kw: Any) -> dict[str, Any]:
    return {
        "productId": f"SKU-{i}",
        "name": f"Lamp {i}",
        "productDetailUrl": f"https://shop.example/p/{i}",
        "unitPrice": f"{10 + i}.50",
        **kw,
    }


def post(env: Env, store: StoreInfo, kind: str, body: bytes, fmt: str) -> httpx.Response:
    return env.http.post(f"/api/imports?type={kind}&format={fmt}", content=body, headers=store.auth)


def test_products_csv_created_then_idempotent_then_updated_by_key(env: Env) -> None:
    store = env.store(domains=["shop.example"])
    rows = [product(i, categories="/Home|/Home/Lamps", availability="InStock") for i in range(5)]
    r = post(env, store, "products", products_csv(rows), "csv")
    assert r.status_code == 201, r.text
    report = r.json()
    assert (report["status"], report["rows"], report["created"], report["updated"]) == (
        "finished",
        5,
        5,
        0,
    )
    got = env.http.get("/api/products/product-id/SKU-3", headers=store.auth).json()
    assert got["name"] == "Lamp 3"
    assert got["unitPrice"] == 13.5
    assert got["categories"] == ["/Home", "/Home/Lamps"]
    assert got["availability"] == "instock"
    before = env.q(
        "SELECT product_id, updated_at, data FROM products WHERE store_id = ? ORDER BY 1",
        (store.id,),
    )

    again = post(env, store, "products", products_csv(rows), "csv").json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 5)
    assert (
        env.q(
            "SELECT product_id, updated_at, data FROM products WHERE store_id = ? ORDER BY 1",
            (store.id,),
        )
        == before
    )

    # An existing product is updated by its productId; fields the file does not give stay.
    changed = [product(3, unitPrice="99", brand="Acme")]
    upd = post(env, store, "products", jsonl([{**changed[0], "unitPrice": 99}]), "jsonl").json()
    assert (upd["created"], upd["updated"], upd["unchanged"]) == (0, 1, 0)
    got = env.http.get("/api/products/product-id/SKU-3", headers=store.auth).json()
    assert (got["unitPrice"], got["brand"], got["categories"]) == (
        99,
        "Acme",
        ["/Home", "/Home/Lamps"],
    )
    listed = env.http.get(f"/api/imports/{upd['id']}", headers=store.auth).json()
    assert listed["status"] == "finished" and listed["updated"] == 1


def test_contacts_jsonl_multipart_updates_by_email(env: Env) -> None:
    store = env.store()
    env.http.patch(
        "/api/contacts/ann@example.com", json={"_name": "Ann", "tier": "silver"}, headers=store.auth
    ).raise_for_status()
    body = jsonl(
        [
            {"_email": "ANN@example.com ", "_surname": "Lee", "tier": "gold", "_points": 12},
            {
                "_email": "bob@example.com",
                "_name": "Bob",
                "_newsletterSubscriptionStatus": "subscribed",
            },
        ]
    )
    r = env.http.post(
        "/api/imports",
        data={"type": "contacts"},
        files={"file": ("contacts.jsonl", body, "application/x-ndjson")},
        headers=store.auth,
    )
    assert r.status_code == 201, r.text
    assert (r.json()["created"], r.json()["updated"]) == (1, 1)
    ann = env.http.get("/api/contacts/ann@example.com", headers=store.auth).json()
    assert (ann["_name"], ann["_surname"], ann["tier"], ann["_points"]) == (
        "Ann",
        "Lee",
        "gold",
        12,
    )
    bob = env.http.get("/api/contacts/bob@example.com/activity", headers=store.auth).json()
    assert [a["type"] for a in bob["items"]] == ["entity-created"]
    again = env.http.post(
        "/api/imports",
        data={"type": "contacts"},
        files={"file": ("contacts.jsonl", body, "application/x-ndjson")},
        headers=store.auth,
    ).json()
    assert (again["created"], again["updated"], again["unchanged"]) == (0, 0, 2)


def test_broken_rows_are_reported_and_nothing_is_written(env: Env) -> None:
    store = env.store(domains=["shop.example"])
    rows = [
        product(1),
        product(2, unitPrice="12,50"),
        {**product(3), "name": ""},
        product(4, productDetailUrl="https://elsewhere.example/p/4"),
        product(5, availability="sometimes"),
        product(6, colour="red"),
    ]
    r = post(env, store, "products", products_csv(rows), "csv")
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "validation_failed"
    report = body["import"]
    assert report["status"] == "failed" and report["errorCount"] == 5
    by_row = {e["row"]: e for e in report["errors"]}
    assert set(by_row) == {2, 3, 4, 5, 6}
    assert by_row[2]["field"] == "unitPrice" and by_row[2]["got"] == "12,50"
    assert by_row[2]["line"] == 3
    assert by_row[3]["field"] == "name" and by_row[3]["code"] == "missing_field"
    assert by_row[4]["code"] == "url_not_authorized"
    assert by_row[5]["field"] == "availability" and "instock" in by_row[5]["expected"]
    assert by_row[6]["code"] == "unknown_field" and by_row[6]["field"] == "colour"
    assert env.q("SELECT COUNT(*) FROM products WHERE store_id = ?", (store.id,))[0][0] == 0
    found = env.http.get(f"/api/imports/{report['id']}", headers=store.auth).json()
    assert found["status"] == "failed" and found["errorCount"] == 5

    bad_contacts = jsonl(
        [
            {"_email": "not-an-email"},
            {"_name": "No mail"},
            {"_email": "x@y.z", "_birthdate": "yesterday"},
            "text",
        ]
    )
    r = post(env, store, "contacts", bad_contacts, "jsonl")
    assert r.status_code == 422
    codes = [(e["row"], e["field"], e["code"]) for e in r.json()["import"]["errors"]]
    assert codes == [
        (1, "_email", "invalid_email"),
        (2, "_email", "missing_field"),
        (3, "_birthdate", "invalid_date"),
        (4, "", "not_an_object"),
    ]
    assert env.q("SELECT COUNT(*) FROM contacts WHERE store_id = ?", (store.id,))[0][0] == 0


def test_unreadable_files_and_bad_parameters(env: Env) -> None:
    store = env.store()
    r = post(env, store, "products", b"productId,name\n\xff\xfe,x\n", "csv")
    assert r.status_code == 422 and r.json()["import"]["errors"][0]["code"] == "invalid_encoding"
    r = post(env, store, "products", b"productId,name,productId\n", "csv")
    assert r.status_code == 422 and r.json()["import"]["errors"][0]["code"] == "invalid_header"
    r = post(env, store, "products", b"{}", "xml")
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/format"
    r = post(env, store, "carts", b"{}", "jsonl")
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/type"


def test_nul_characters_never_a_500(env: Env) -> None:
    """PostgreSQL text cannot hold NUL (U+0000). A file name with one is refused, with its
    path; a cell's are removed, as the ingest endpoint removes them; on both backends."""
    store = env.store(domains=["shop.example"])
    r = env.http.post(
        "/api/imports",
        params={"type": "products", "format": "csv", "name": "a\x00b.csv"},
        content=products_csv([product(1)]),
        headers=store.auth,
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["path"] == "/name"
    r = post(env, store, "products", products_csv([product(1, name="Lamp\x00 1")]), "csv")
    assert r.status_code == 201, r.text
    r = post(env, store, "contacts", jsonl([{"_email": "a@b.example", "_name": "A\x00"}]), "jsonl")
    assert r.status_code == 201, r.text
    r = env.http.get("/api/products/product-id/SKU-1", headers=store.auth)
    assert r.json()["name"] == "Lamp 1", r.text
    r = env.http.get("/api/contacts/a@b.example", headers=store.auth)
    assert r.json()["_name"] == "A", r.text


def test_a_failed_transaction_undoes_the_whole_file(env: Env) -> None:
    """A storage failure after some chunks: what they wrote is undone (created products
    deleted, updated ones put back), and an import left half-written by a dead process is
    undone by the next import."""
    store = env.store()
    post(
        env, store, "products", jsonl([{**product(1), "unitPrice": 1}]), "jsonl"
    ).raise_for_status()
    before = env.q(
        "SELECT product_id, name, unit_price, data, updated_at FROM products WHERE store_id = ?",
        (store.id,),
    )
    rows = [{**product(i), "unitPrice": 2, "name": f"New {i}"} for i in range(1, 2600)]
    ctx = import_checks.check_context(SystemClock().now(), "EUR", [])
    checked = import_checks.check_rows(
        "products",
        iter(import_files.Row(i + 1, i + 1, r) for i, r in enumerate(rows)),
        ctx,
        csv_cells=False,
    )
    clock = [int(time.time() * 1e6)]
    written = []
    failed: list[bool] = []

    def transact(step: import_plan.Step, fail_after: int | None = None) -> Any:
        fn, _ = step
        if fail_after is not None and len(written) == fail_after and not failed:
            failed.append(True)  # once: storage comes back for the undo
            raise StorageUnavailable("the database went away")
        conn = env.db.connect()
        try:
            with conn.transaction():
                clock[0] += 1000
                result = fn(conn, clock[0])
        finally:
            conn.close()
        written.append(fn)
        return result

    with pytest.raises(StorageUnavailable):
        import_plan.run(
            lambda s: transact(s, fail_after=4),
            store.id,
            checked,
            "x.jsonl",
            "failedimport000000000000",
        )
    after = env.q(
        "SELECT product_id, name, unit_price, data, updated_at FROM products WHERE store_id = ?",
        (store.id,),
    )
    assert after == before
    status = env.q(
        "SELECT status FROM imports WHERE store_id = ? ORDER BY started_at DESC", (store.id,)
    )
    assert status[0][0] == "undone"
    assert env.q("SELECT COUNT(*) FROM import_journal")[0][0] == 0

    # A writer that dies after two chunks: its import stays `writing` until it is stale; the
    # next import of the store undoes it first.
    written.clear()
    steps = import_plan.plan(store.id, checked, "dead.jsonl", "deadimport00000000000000")
    result = None
    for _ in range(4):  # stale look-up, begin, two chunks
        result = transact(steps.send(result))
    assert env.q("SELECT COUNT(*) FROM products WHERE store_id = ?", (store.id,))[0][0] == 2000
    clock[0] += import_undo.STALE_US + 1
    report = import_plan.run(
        transact,
        store.id,
        import_checks.check_rows(
            "products", iter([import_files.Row(1, 2, product(9000))]), ctx, csv_cells=False
        ),
        "next.jsonl",
        "nextimport00000000000000",
    )
    assert report["created"] == 1
    names = dict(env.q("SELECT product_id, name FROM products WHERE store_id = ?", (store.id,)))
    assert names == {"SKU-1": "Lamp 1", "SKU-9000": "Lamp 9000"}
    assert (
        env.q("SELECT status FROM imports WHERE id = ?", ("deadimport00000000000000",))[0][0]
        == "undone"
    )


def cli(env: Env, *args: str) -> Any:
    return CliRunner().invoke(main, ["--database", env.url, *args], catch_exceptions=False)


def test_cli_import_with_errors_and_exports_match_rest(env: Env, tmp_path: Path) -> None:
    store = env.store()
    good = tmp_path / "contacts.csv"
    good.write_text("_email,_name,tier\nann@example.com,Ann,gold\nbob@example.com,Bob,\n")
    r = cli(env, "import", "contacts", str(good), "--store", store.id)
    assert r.exit_code == 0, r.output
    assert "finished: 2 rows, 2 created" in r.output
    bad = tmp_path / "bad.csv"
    bad.write_text("_email,_points\ncid@example.com,12\nnope,1.5\n")
    r = cli(env, "import", "contacts", str(bad), "--store", store.id, "--quiet")
    assert r.exit_code == 1
    assert "row 2 (line 3): _email: invalid_email" in r.output
    assert "row 2 (line 3): _points: invalid_field" in r.output
    assert "nothing was imported" in r.output
    purchase = {
        "purchaseId": "O-1",
        "contactEmail": "ann@example.com",
        "totalQuantity": 1,
        "totalPrice": 13.5,
        "purchaseDate": "2026-01-02T10:00:00Z",
        "products": [{**product(3), "unitPrice": 13.5, "quantity": 1, "price": 13.5}],
    }
    env.http.post("/api/purchases/", json=purchase, headers=store.auth).raise_for_status()
    for what in ("contacts", "events", "purchases"):
        for fmt in ("csv", "jsonl"):
            out = tmp_path / f"{what}.{fmt}"
            r = cli(
                env, "export", what, "--store", store.id, "--format", fmt, "-o", str(out), "--quiet"
            )
            assert r.exit_code == 0, r.output
            rest = env.http.get(f"/api/exports/{what}?format={fmt}", headers=store.auth)
            assert rest.status_code == 200
            assert rest.text == out.read_text()
            assert len(rest.text.splitlines()) >= 1 + (fmt == "csv")
    ranged = env.http.get(
        "/api/exports/activities?from=2026-01-01&to=2027-12-31", headers=store.auth
    )
    assert ranged.text == env.http.get("/api/exports/events", headers=store.auth).text
    r = env.http.get("/api/exports/purchases?from=2026-02-01&to=2026-02-03", headers=store.auth)
    assert r.status_code == 200 and r.text == ""
    r = env.http.get("/api/exports/purchases?from=tomorrow", headers=store.auth)
    assert r.status_code == 422 and r.json()["errors"][0]["path"] == "/from"


def test_export_pages_are_stable_under_inserts(env: Env) -> None:
    store = env.store()
    post(
        env, store, "contacts", jsonl([{"_email": f"u{i}@example.com"} for i in range(5)]), "jsonl"
    ).raise_for_status()
    seen: list[str] = []
    cursor = ""
    for round_ in range(10):
        r = env.http.get(f"/api/exports/contacts?limit=2&cursor={cursor}", headers=store.auth)
        assert r.status_code == 200
        page = [json.loads(line) for line in r.text.splitlines()]
        seen += [p["email"] for p in page]
        # New contacts arrive between pages.
        env.http.patch(f"/api/contacts/late{round_}@example.com", json={}, headers=store.auth)
        cursor = r.headers.get("X-Next-Cursor", "")
        if not cursor:
            break
    assert len(seen) == len(set(seen))
    assert {f"u{i}@example.com" for i in range(5)} <= set(seen)
    r = env.http.get("/api/exports/contacts?cursor=%00", headers=store.auth)
    assert r.status_code == 422


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_100k_rows(fmt: str, env: Env, tmp_path: Path) -> None:
    if env.db.dialect != "sqlite":
        pytest.skip(
            "100,000 rows on SQLite only in the suite; `python -m bench import` measures both"
        )
    store = env.store()
    n = 100_000
    path = tmp_path / f"products.{fmt}"
    with path.open("w", newline="") as fh:
        if fmt == "csv":
            fh.write("productId,name,productDetailUrl,unitPrice,categories\n")
            for i in range(n):
                fh.write(f"P{i},Product {i},https://shop.example/p/{i},{i % 100}.5,/A|/A/B\n")
        else:
            for i in range(n):
                fh.write(
                    json.dumps(
                        {
                            "productId": f"P{i}",
                            "name": f"Product {i}",
                            "productDetailUrl": f"https://shop.example/p/{i}",
                            "unitPrice": i % 100 + 0.5,
                            "categories": ["/A", "/A/B"],
                        }
                    )
                    + "\n"
                )
    with path.open("rb") as fh:
        r = env.http.post(
            "/api/imports?type=products",
            content=fh.read(),
            headers={
                **store.auth,
                "Content-Type": "text/csv" if fmt == "csv" else "application/x-ndjson",
            },
        )
    assert r.status_code == 201, r.text[:500]
    assert r.json()["created"] == n
    assert env.q("SELECT COUNT(*) FROM products WHERE store_id = ?", (store.id,))[0][0] == n
    assert env.q("SELECT COUNT(*) FROM import_journal")[0][0] == 0


DOCS = Path(__file__).resolve().parents[2] / "docs"


def test_the_docs_examples(env: Env, tmp_path: Path) -> None:
    """docs/http-api.md and docs/cli.md show what these files really get."""
    store = env.store(domains=["shop.example"])
    examples = DOCS / "examples"
    r = post(env, store, "products", (examples / "import-products.csv").read_bytes(), "csv")
    assert r.status_code == 201 and (r.json()["rows"], r.json()["created"]) == (2, 2)
    r = env.http.post(
        "/api/imports",
        data={"type": "contacts"},
        files={
            "file": ("import-contacts.jsonl", (examples / "import-contacts.jsonl").read_bytes())
        },
        headers=store.auth,
    )
    assert r.status_code == 201 and r.json()["created"] == 2
    broken = (examples / "import-products-broken.csv").read_bytes()
    r = post(env, store, "products", broken, "csv")
    assert r.status_code == 422
    report = {k: v for k, v in r.json()["import"].items() if k != "id"}
    http_doc = (DOCS / "http-api.md").read_text()
    block = http_doc.split("its `import` member is this report", 1)[1]
    shown = json.loads(block.split("```json\n", 1)[1].split("```", 1)[0])
    assert report == shown
    cli_doc = (DOCS / "cli.md").read_text()
    r = cli(
        env,
        "import",
        "products",
        str(examples / "import-products-broken.csv"),
        "--store",
        store.id,
        "--quiet",
    )
    assert r.exit_code == 1
    for line in r.output.splitlines():
        assert f"# {line}" in cli_doc, line
    r = cli(
        env,
        "import",
        "products",
        str(examples / "import-products.csv"),
        "--store",
        store.id,
        "--quiet",
    )
    assert r.exit_code == 0
    assert r.output.strip() == "finished: 2 rows, 0 created, 0 updated, 2 unchanged"


def test_dashboard_upload(env: Env) -> None:
    """The Import page: a bad file shows each error and writes nothing; a good one is
    imported and listed."""
    store = env.store(domains=["shop.example"])
    add_user(env.db, "importer")
    examples = DOCS / "examples"
    with httpx.Client(base_url=str(env.http.base_url), timeout=60) as web:
        csrf = login(web, "importer")
        base = f"/stores/{store.id}/imports"
        assert web.get(base).status_code == 200
        r = web.post(
            base,
            data={"csrf": csrf, "type": "products"},
            files={"file": ("broken.csv", (examples / "import-products-broken.csv").read_bytes())},
        )
        assert r.status_code == 422
        assert "Nothing was imported" in r.text
        assert "a number, with a dot before any decimals" in r.text and "24,90" in r.text
        assert env.q("SELECT COUNT(*) FROM products WHERE store_id = ?", (store.id,))[0][0] == 0
        r = web.post(
            base,
            data={"csrf": csrf, "type": "products"},
            files={"file": ("products.csv", (examples / "import-products.csv").read_bytes())},
        )
        assert r.status_code == 200, r.text[:500]
        assert "2 rows: 2 created, 0 updated, 0 unchanged" in r.text
        assert env.q("SELECT COUNT(*) FROM products WHERE store_id = ?", (store.id,))[0][0] == 2
        r = web.post(base, data={"csrf": csrf, "type": "products"})
        assert r.status_code == 422 and "Choose a file" in r.text
        forged = web.post(
            base,
            data={"csrf": "forged", "type": "products"},
            files={"file": ("products.csv", b"productId\n")},
        )
        assert forged.status_code == 403
