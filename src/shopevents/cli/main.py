"""The command line's root: `shopevents [--database URL] [--config FILE] COMMAND`, its
settings, and its commands, a module each."""

from __future__ import annotations

import click

from shopevents.cli import (
    carts,
    cluster,
    contacts,
    custom_events,
    demo,
    exports,
    imports,
    keys,
    privacy,
    purchases,
    quarantine,
    rates,
    reports,
    send,
    server,
    stores,
    users,
    webhooks,
)
from shopevents.cli.common import Group
from shopevents.cli.env import Env
from shopevents.config import Settings, load_settings


def _settings_error(exc: Exception, config: str | None) -> click.ClickException:
    import tomllib

    if isinstance(exc, tomllib.TOMLDecodeError) or isinstance(
        exc.__cause__ or exc.__context__, tomllib.TOMLDecodeError
    ):
        return click.ClickException(
            f"{exc}: the settings file {config} is not valid TOML; fix it "
            "(docs/configuration.md shows the format), or leave out --config / SHOPEVENTS_CONFIG"
        )
    if isinstance(exc, OSError):
        name = exc.filename or config
        return click.ClickException(
            f"cannot read the settings file {name} ({exc.strerror or exc}): check the path "
            "given with --config / SHOPEVENTS_CONFIG (or a SHOPEVENTS_*_FILE variable)"
        )
    return click.ClickException(
        f"{exc} (see docs/configuration.md for the settings and their values)"
    )


_SOURCES = {
    click.core.ParameterSource.COMMANDLINE: "from --database",
    click.core.ParameterSource.ENVIRONMENT: "from SHOPEVENTS_DATABASE_URL",
}


@click.group(cls=Group)
@click.version_option(package_name="shopevents", message="shopevents %(version)s")
@click.option(
    "--database",
    "database",
    envvar="SHOPEVENTS_DATABASE_URL",
    help="sqlite:///PATH or postgresql://... (env SHOPEVENTS_DATABASE_URL)",
)
@click.option(
    "--config",
    "config",
    envvar="SHOPEVENTS_CONFIG",
    type=click.Path(dir_okay=False),
    help="A TOML settings file (env SHOPEVENTS_CONFIG).",
)
@click.pass_context
def main(click_ctx: click.Context, database: str | None, config: str | None) -> None:
    """shopevents: a self-hosted eCommerce event backend speaking Connectif's protocol."""
    try:
        settings = load_settings(config_file=config, overrides={"database_url": database})
    except (ValueError, OSError) as exc:  # SettingsError and TOMLDecodeError are ValueErrors
        raise _settings_error(exc, config) from None
    source = _SOURCES.get(click_ctx.get_parameter_source("database"))  # type: ignore[arg-type]
    if source is None:
        source = (
            "from the settings"
            if settings.database_url != Settings().database_url
            else ("the default, in the working directory")
        )
    env = Env(settings, url_source=source)
    env.check_url()
    click_ctx.obj = env
    click_ctx.call_on_close(env.close)


for command in (
    server.migrate,
    server.serve,
    server.worker,
    cluster.collect,
    cluster.process,
    cluster.cluster_group,
    stores.stores_group,
    send.send,
    send.schema_group,
    contacts.contacts_group,
    carts.carts_group,
    users.users_group,
    quarantine.quarantine_group,
    reports.report_group,
    exports.export_command,
    imports.import_command,
    demo.demo_command,
    purchases.purchases_group,
    rates.rates_group,
    webhooks.webhooks_group,
    custom_events.custom_events_group,
):
    main.add_command(command)
for command in (keys.stores_keys, keys.write_keys_group, privacy.retention_command):
    stores.stores_group.add_command(command)
for command in (privacy.erase_command, privacy.erasures_command):
    contacts.contacts_group.add_command(command)
