"""Plugin settings: a ``[plugins.NAME]`` table validated by the model the plugin declares
(``router_plugin_settings``), handed to its ``router_startup``; ``router_shutdown`` when the
router closes. Errors name the file, the key and the reason, never the value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel, ConfigDict, Field

from router_core import ConfigError, PluginError, hookimpl
from router_core.config import load_config
from router_core.plugins import make_plugin_manager
from router_core.router import Router
from router_core.testing import FakeClock

pytest.importorskip("router_paper", reason="alert-router-paper is not installed")

BASE = """
[router]
state_dir = "state"

[accounts.main]
broker = "paper"
"""


class GreeterSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, hide_input_in_errors=True)
    greeting: str = "hello"
    times: int = Field(1, ge=1)
    token_env: str | None = None


class Greeter:
    """A plugin with settings, recording what the router hands it."""

    def __init__(self, fail_with: Exception | None = None) -> None:
        self.started: list[tuple[Any, dict[str, Any]]] = []
        self.stopped = 0
        self.fail_with = fail_with

    @hookimpl
    def router_plugin_settings(self) -> type[BaseModel]:
        return GreeterSettings

    @hookimpl
    async def router_startup(self, settings: GreeterSettings, context: dict[str, Any]) -> None:
        self.started.append((settings, context))
        if self.fail_with is not None:
            raise self.fail_with

    @hookimpl
    async def router_shutdown(self) -> None:
        self.stopped += 1


class Silent:
    """A plugin without settings that still wants to know when the router starts."""

    def __init__(self) -> None:
        self.settings: list[Any] = ["not called"]

    @hookimpl
    def router_startup(self, settings: Any) -> None:
        self.settings = [settings]


def router_for(tmp_path: Path, toml: str, *plugins: tuple[str, object]) -> Router:
    path = tmp_path / "config.toml"
    path.write_text(BASE + toml)
    return Router.from_config_file(path, clock=FakeClock(),
                                   plugins=make_plugin_manager(["paper"], extra=plugins))


async def test_the_table_reaches_router_startup_validated(tmp_path):
    greeter, silent = Greeter(), Silent()
    router = router_for(tmp_path, '[plugins.greeter]\ngreeting = "hi"\ntimes = 3\n',
                        ("greeter", greeter), ("silent", silent))
    await router.start()
    [(settings, context)] = greeter.started
    assert settings == GreeterSettings(greeting="hi", times=3)
    assert context["clock"] is router.clock
    assert context["state_dir"] == router.config.router.state_dir
    assert silent.settings == [None]
    assert greeter.stopped == 0
    await router.close()
    assert greeter.stopped == 1


async def test_no_table_gives_the_models_defaults(tmp_path):
    greeter = Greeter()
    router = router_for(tmp_path, "", ("greeter", greeter))
    await router.start()
    await router.close()
    assert greeter.started[0][0] == GreeterSettings()


@pytest.mark.parametrize(("toml", "key", "reason"), [
    ('[plugins.greeter]\ntimes = 0\n', "plugins.greeter.times", "greater than or equal to 1"),
    ('[plugins.greeter]\ngreting = "hi"\n', "plugins.greeter.greting", "unknown key"),
    ('[plugins.greter]\n', "plugins.greter", "no loaded plugin is named 'greter'"),
    ('[plugins.silent]\nx = 1\n', "plugins.silent", "takes no settings"),
    ('[plugins]\ngreeter = 3\n', "plugins.greeter", "must be a table"),
])
async def test_a_bad_table_is_a_config_error_naming_file_and_key(tmp_path, toml, key, reason):
    greeter = Greeter()
    with pytest.raises(ConfigError) as caught:
        router = router_for(tmp_path, toml, ("greeter", greeter), ("silent", Silent()))
        await router.start()
    assert caught.value.key == key and reason in caught.value.reason
    assert caught.value.file == str(tmp_path / "config.toml")
    assert greeter.started == []  # nothing started on a bad table


async def test_a_secret_pasted_into_a_table_is_not_echoed(tmp_path):
    secret = "sk-live-0123456789abcdef"
    router = router_for(tmp_path, f'[plugins.greeter]\ntimes = "{secret}"\n',
                        ("greeter", Greeter()))
    with pytest.raises(ConfigError) as caught:
        await router.start()
    assert caught.value.key == "plugins.greeter.times" and secret not in str(caught.value)


async def test_a_config_error_from_startup_names_the_plugins_table(tmp_path):
    failing = Greeter(fail_with=ConfigError("environment variable GREETER_TOKEN is not set",
                                            key="token_env"))
    router = router_for(tmp_path, "", ("greeter", failing))
    with pytest.raises(ConfigError) as caught:
        await router.start()
    assert caught.value.key == "plugins.greeter.token_env"
    assert caught.value.file == str(tmp_path / "config.toml")
    await router.close()
    assert failing.stopped == 1  # what started is stopped


async def test_another_startup_failure_names_the_plugin(tmp_path):
    router = router_for(tmp_path, "", ("greeter", Greeter(fail_with=RuntimeError("boom"))))
    with pytest.raises(PluginError) as caught:
        await router.start()
    assert caught.value.plugin == "greeter" and "boom" in str(caught.value)
    await router.close()


async def test_a_failing_router_shutdown_does_not_stop_the_others(tmp_path, caplog):
    class Broken:
        @hookimpl
        def router_shutdown(self) -> None:
            raise RuntimeError("cannot close")

    greeter = Greeter()
    router = router_for(tmp_path, "", ("greeter", greeter), ("broken", Broken()))
    await router.start()
    await router.close()
    assert greeter.stopped == 1
    assert "router_shutdown of plugin broken failed" in caplog.text


async def test_a_dry_run_router_neither_starts_nor_stops_plugins(tmp_path):
    greeter = Greeter()
    router = router_for(tmp_path, "", ("greeter", greeter))
    await router.start_brokers()  # what send --dry-run and validate do
    await router.close()
    assert greeter.started == [] and greeter.stopped == 0


def test_a_model_that_is_not_a_pydantic_class_is_refused():
    class Wrong:
        @hookimpl
        def router_plugin_settings(self) -> dict[str, str]:
            return {"greeting": "str"}

    plugins = make_plugin_manager([], extra=[("wrong", Wrong())])
    with pytest.raises(PluginError) as caught:
        plugins.calls.settings_models()
    assert caught.value.plugin == "wrong" and "not a pydantic model class" in caught.value.reason


def test_the_file_keeps_plugin_tables_as_written(tmp_path):
    path = tmp_path / "config.toml"
    path.write_text(BASE + '[plugins.greeter]\ngreeting = "hi"\n')
    config = load_config(path, make_plugin_manager(["paper"]).brokers)
    assert config.plugins == {"greeter": {"greeting": "hi"}}
