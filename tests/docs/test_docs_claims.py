"""Outputs the docs show are the real ones: the loader snippet of client-script.md, the
JSON `stores create --json` prints in the quickstart, and the settings file of
configuration.md (read by the real loader, every value checked by its rule)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from click.testing import CliRunner

from shopevents.cli import main
from shopevents.config import load_settings
from shopevents.storage.database import Database
from tests.docs.test_docs_commands import fenced

ROOT = Path(__file__).resolve().parents[2]


def doc(name: str) -> str:
    return (ROOT / "docs" / name).read_text()


def cli(url: str, *args: str) -> str:
    result = CliRunner().invoke(main, ["--database", url, *args], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.stdout


def test_the_snippet_and_the_store_json_shown_are_what_the_cli_prints(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    Database(url).migrate()
    made = json.loads(
        cli(
            url, *["stores", "create", "X", "--domain", "myshop.com", "--currency", "EUR", "--json"]
        )
    )
    quickstart = doc("quickstart.md")
    shown = next(b for lang, b in fenced(quickstart) if lang == "json" and "storeId" in b)
    assert list(json.loads(shown)) == list(made), "quickstart: stores create --json prints"
    assert re.fullmatch(r"key_[0-9a-f]{16}", made["apiKeyId"])
    snippet = cli(
        url, "stores", "snippet", made["storeId"], "--base-url", "https://events.myshop.com"
    )
    html = next(b for lang, b in fenced(doc("client-script.md")) if lang == "html")
    assert snippet.replace(made["storeId"], "STORE_ID") == html


def test_the_settings_file_shown_is_read_as_it_says(tmp_path: Path) -> None:
    text = doc("configuration.md")
    toml = next(b for lang, b in fenced(text) if lang == "toml")
    path = tmp_path / "shopevents.toml"
    path.write_text(toml)
    s = load_settings(env={}, config_file=path)
    assert s.database_url == "postgresql://shopevents@db:5432/shopevents"
    assert s.public_url == "https://events.myshop.com"
    assert (s.ingest.max_body_bytes, s.ingest.rate_limit_per_client) == (1048576, 20)
    assert s.storage.sqlite_synchronous == "FULL"
    assert load_settings(env={"SHOPEVENTS_INGEST_MAX_EVENTS": "200"}).ingest.max_events == 200
    assert "SHOPEVENTS_INGEST_MAX_EVENTS=200 shopevents serve" in text


def test_the_webhook_verifiers_shown_are_the_files_the_tests_run() -> None:
    """webhooks.md shows the verification function of docs/examples/verify_webhook.py and
    verify-webhook.js (which the webhook tests run on real deliveries) as they are."""
    blocks = fenced(doc("webhooks.md"))
    python = next(b for lang, b in blocks if lang == "python")
    js = next(b for lang, b in blocks if lang == "js")
    py_file = (ROOT / "docs/examples/verify_webhook.py").read_text()
    js_file = (ROOT / "docs/examples/verify-webhook.js").read_text()
    py_fn = py_file[py_file.index("def verify_webhook") : py_file.index("\n\n\nif __name__")]
    js_fn = js_file[js_file.index("function verifyWebhook") :]
    js_fn = js_fn[: js_fn.index("\n}\n") + 2]
    assert py_fn in python and "TOLERANCE_SECONDS = 300" in python
    assert js_fn in js and "const TOLERANCE_SECONDS = 300;" in js


DOC_FILES = ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))]
REPO_PATH = re.compile(r"(?<![\w/.-])((?:docs|src|tests|bench|scripts|\.ci)/[\w./*{}-]+)")


def test_every_repository_path_named_exists() -> None:
    """`docs/examples/seed-purchase.json`, `scripts/demo.sh`, `bench/requirements.txt`…: a
    path README.md or a doc names is in the repository (a glob matches something)."""
    for name in DOC_FILES:
        for path in REPO_PATH.findall((ROOT / name).read_text()):
            path = path.rstrip(".,)")
            if "{" in path or path.startswith("bench/results/"):
                continue  # files a tool writes (bench/results/ is not in the repository)
            found = list(ROOT.glob(path)) if "*" in path else (ROOT / path).exists()
            assert found, f"{name} names {path}, which does not exist"


def test_readme_links_resolve() -> None:
    for target in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", (ROOT / "README.md").read_text()):
        assert (ROOT / target).exists(), f"README.md links to missing {target}"


def test_the_code_layout_names_real_modules() -> None:
    """Every module or package architecture.md's code layout names is in src/shopevents."""
    text = doc("architecture.md")
    layout = text.split("## Code layout", 1)[1]
    block = next(b for lang, b in fenced(layout) if lang == "text")
    names = re.findall(r"(?:^  |, )([a-z_]+(?:\.py|/))", block, re.M)
    assert len(names) > 10, names
    for name in names:
        assert (ROOT / "src" / "shopevents" / name).exists(), f"architecture.md names {name}"
