"""Plugin discovery and loading: the only module that touches entry points.

Stevedore imports, pluggy calls. The entry-point group is catalogued with importlib.metadata
first (a duplicate name or an enabled name that is not installed is an error naming the
distributions, before anything is imported); then stevedore's NamedExtensionManager imports
only the enabled names, collecting every failure; each module is registered with pluggy and
``check_pending`` catches misspelt hooks. A process that holds exchange keys never runs with
half its plugins loaded: any failure stops start-up.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from . import hookspecs
from .brokers import BrokerRegistry, RegisterBroker
from .errors import PluginError
from .hooks import HookCaller

GROUP = "router_core.plugins"
hookimpl = pluggy.HookimplMarker(hookspecs.PROJECT)

# Built into the core, registered before entry points; they are plugins like any other.
BUILTIN_PLUGINS = (
    "router_core.builtins",
    "router_core.dialects.tradingview",
    "router_core.dialects.pickmytrade",
    "router_core.dialects.native",
)


@dataclass(frozen=True, slots=True)
class InstalledPlugin:
    name: str
    module: str
    distribution: str | None
    version: str | None
    entry_point: metadata.EntryPoint | None = None


def catalogue(group: str = GROUP) -> dict[str, InstalledPlugin]:
    """Installed entry points by name, without importing any of them."""
    found: dict[str, list[InstalledPlugin]] = {}
    for ep in metadata.entry_points(group=group):
        dist = getattr(ep, "dist", None)
        found.setdefault(ep.name, []).append(
            InstalledPlugin(
                name=ep.name,
                module=ep.value,
                distribution=dist.metadata["Name"] if dist is not None else None,
                version=dist.version if dist is not None else None,
                entry_point=ep,
            )
        )
    result: dict[str, InstalledPlugin] = {}
    for name, providers in found.items():
        distinct = {(p.module, p.distribution) for p in providers}
        if len(distinct) > 1:
            names = ", ".join(f"{p.distribution} ({p.module})" for p in providers)
            raise PluginError(f"installed more than once: {names}", plugin=name)
        result[name] = providers[0]
    return result


class PluginSet:
    """A plugin manager with its broker registry: the typed facade over ``pm.hook``."""

    def __init__(self, pm: pluggy.PluginManager, installed: dict[str, InstalledPlugin]) -> None:
        self.pm = pm
        self.installed = installed
        self.brokers = BrokerRegistry()
        self.calls = HookCaller(pm.hook)  # how the core calls hooks: typed, awaiting

    @property
    def hook(self) -> Any:
        """pluggy's raw ``pm.hook`` (tests, tools); the core calls through ``calls``."""
        return self.pm.hook

    def register(self, module: ModuleType | object, name: str) -> None:
        try:
            self.pm.register(module, name=name)
        except ValueError as exc:  # pluggy: name already registered
            raise PluginError(str(exc), plugin=name) from exc
        except pluggy.PluginValidationError as exc:
            info = self.installed.get(name)
            raise PluginError(
                str(exc),
                plugin=name,
                module=info.module if info else getattr(module, "__name__", None),
                distribution=info.distribution if info else None,
            ) from exc
        # HookCaller awaits async implementations itself and hands new-style wrappers the
        # awaited result; an old-style wrapper's Result protocol is not implemented there.
        old_style = sorted(
            caller.name
            for caller in self.pm.get_hookcallers(module) or ()
            if any(impl.hookwrapper and impl.plugin is module for impl in caller.get_hookimpls())
        )
        if old_style:
            self.pm.unregister(module)
            raise PluginError(
                f"hookwrapper=True on {', '.join(old_style)} is not supported; use "
                "wrapper=True (a generator: `result = yield`)",
                plugin=name,
            )

    def collect_brokers(self) -> None:
        """Call every ``router_register_brokers`` and validate what is registered."""

        def register_for(plugin: str) -> RegisterBroker:
            return partial(self.brokers.register, plugin=plugin)

        try:
            self.calls.register_brokers(register_for)
        except PluginError as exc:
            info = self.installed.get(exc.plugin or "")
            if info is None or exc.module is not None:
                raise
            raise PluginError(
                exc.reason, plugin=exc.plugin, module=info.module, distribution=info.distribution
            ) from exc.__cause__


def make_plugin_manager(
    enabled: Iterable[str] | None = None,
    *,
    extra: Iterable[tuple[str, object]] = (),
    group: str = GROUP,
    builtins: Iterable[str] = BUILTIN_PLUGINS,
) -> PluginSet:
    """Build a fresh PluginSet: built-ins, the enabled entry points, then ``extra`` objects.

    :param enabled: entry-point names to load; ``None`` loads every installed one, ``[]`` none.
    :param extra: ``(name, module_or_object)`` pairs registered directly (tests, embedding).
    """
    installed = catalogue(group)
    names = sorted(installed) if enabled is None else list(dict.fromkeys(enabled))
    missing = [n for n in names if n not in installed]
    if missing:
        available = ", ".join(sorted(installed)) or "none"
        raise PluginError(
            f"enabled but not installed: {', '.join(missing)} (installed: {available}); "
            "install the plugin's distribution with pip or remove it from [plugins] enabled",
            plugin=missing[0],
        )

    pm = pluggy.PluginManager(hookspecs.PROJECT)
    pm.add_hookspecs(hookspecs)
    plugins = PluginSet(pm, installed)
    for module_name in builtins:
        plugins.register(importlib.import_module(module_name), name=module_name)

    for name, module in _import_entry_points(group, names, installed):
        plugins.register(module, name=name)
    for name, obj in extra:
        plugins.register(obj, name=name)

    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        name = pm.get_name(exc.plugin) or "?"
        info = installed.get(name)
        raise PluginError(
            str(exc),
            plugin=name,
            module=info.module if info else None,
            distribution=info.distribution if info else None,
        ) from exc
    plugins.collect_brokers()
    return plugins


def _import_entry_points(
    group: str, names: list[str], installed: dict[str, InstalledPlugin]
) -> list[tuple[str, object]]:
    if not names:
        return []
    from stevedore import NamedExtensionManager  # imported only when a plugin is enabled

    failures: list[PluginError] = []

    def on_failure(_manager: object, ep: Any, exc: BaseException) -> None:
        info = installed.get(ep.name)
        failures.append(
            PluginError(
                f"import failed: {type(exc).__name__}: {exc}",
                plugin=ep.name,
                module=ep.value,
                distribution=info.distribution if info else None,
            )
        )

    class CataloguedExtensionManager(NamedExtensionManager):
        """Imports exactly the entry points catalogued above. Stevedore's own scan keeps a
        process-wide cache per group, which would miss a plugin installed after the first
        scan in this process (and a test's throw-away plugins)."""

        def list_entry_points(self) -> list[metadata.EntryPoint]:
            return [p.entry_point for p in installed.values() if p.entry_point is not None]

    manager = CataloguedExtensionManager(
        group,
        names=names,
        name_order=True,
        on_load_failure_callback=on_failure,
        on_missing_entrypoints_callback=None,
    )
    if failures:
        if len(failures) == 1:
            raise failures[0]
        raise PluginError("; ".join(str(f) for f in failures))
    return [(ext.name, ext.plugin) for ext in manager]
