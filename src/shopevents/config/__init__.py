"""One typed, frozen settings object: defaults < TOML file < SHOPEVENTS_* environment < flags.

Each setting declares its rule next to it (its type, `Meta(ge=, le=)` bounds, a `Literal` of
allowed values): the TOML file, the environment and the command line are all checked against
that one rule set, and a value that breaks it, an unknown key or section, or an unknown
`SHOPEVENTS_*` variable stops the command with one line naming the setting and its source.

The settings are declared in `settings.py`, their rules named and checked in `rules.py`, read
from each source in `sources.py`, and listed with their docstrings for the docs in
`documented.py`.
"""

from shopevents.config.documented import documented_settings
from shopevents.config.rules import ENV_PREFIX, Rule, SettingsError, describe, env_name, rules
from shopevents.config.settings import (
    ClusterSettings,
    DashboardSettings,
    HttpSettings,
    IngestSettings,
    Settings,
    StorageSettings,
    WebhookSettings,
    WorkerSettings,
)
from shopevents.config.sources import OTHER_ENV, OTHER_ENV_PREFIXES, load_settings, override

__all__ = [
    "ENV_PREFIX",
    "OTHER_ENV",
    "OTHER_ENV_PREFIXES",
    "ClusterSettings",
    "DashboardSettings",
    "HttpSettings",
    "IngestSettings",
    "Rule",
    "Settings",
    "SettingsError",
    "StorageSettings",
    "WebhookSettings",
    "WorkerSettings",
    "describe",
    "documented_settings",
    "env_name",
    "load_settings",
    "override",
    "rules",
]
