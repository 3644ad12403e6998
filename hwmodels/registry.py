"""Component models registered by slot and name; third-party ones found by entry point.

A slot is one kind of component (`mac`, `sram`, `dram`, `array`). A factory is a callable that
builds a model for one slot, or an import path string `"module:attribute"` resolved on first use,
so registering a model never imports it. Third-party packages add models through the Python
entry-point group `rctsim.components`: entry point name `slot.name`, value `module:factory`.

There is no module-level registry: `default_registry()` builds one on each call.
"""

from __future__ import annotations

import functools
import importlib
import sys
import warnings
from collections.abc import Callable
from importlib import metadata
from typing import Any

from rctsim.errors import InputError

SLOTS = ("mac", "sram", "dram", "array")
"""Component slots a hardware description can fill."""

ENTRY_POINT_GROUP = "rctsim.components"
"""Entry-point group third-party component models register under."""

DEFAULT_COMPONENTS = {"mac": "table", "sram": "banked", "dram": "table", "array": "systolic"}
"""Model name used for a slot that a hardware description leaves out."""

BUILTIN_FACTORIES = {
    ("mac", "table"): "hwmodels.components:table_mac",
    ("sram", "banked"): "hwmodels.components:banked_sram",
    ("sram", "table"): "hwmodels.components:table_sram",
    ("dram", "table"): "hwmodels.components:table_dram",
    ("array", "systolic"): "hwmodels.systolic:SystolicArray",
}
"""The bundled models, by import path (imported only when asked for)."""

Factory = Callable[..., Any] | str
"""A component factory, or its `module:attribute` import path."""


def resolve_import_path(path: str) -> Callable[..., Any]:
    """Import `module:attribute` (attribute may be dotted) and return the object."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise InputError("component registry", path, "not an import path", "'module:attribute'")
    try:
        target: Any = importlib.import_module(module_name)
        for name in attribute.split("."):
            target = getattr(target, name)
    except (ImportError, AttributeError) as err:
        raise InputError("component registry", path, f"cannot be imported ({err})") from None
    return target


class ComponentRegistry:
    """Component factories by (slot, name)."""

    def __init__(self) -> None:
        self._factories: dict[tuple[str, str], Factory] = {}

    def register(self, slot: str, name: str, factory: Factory) -> None:
        """Add a factory (or `module:attribute` path) for `slot` under `name`."""
        if slot not in SLOTS:
            raise InputError("component registry", slot, "unknown component slot", ", ".join(SLOTS))
        if not name:
            raise InputError("component registry", slot, "model name must not be empty")
        self._factories[(slot, name)] = factory

    def available(self, slot: str) -> list[str]:
        """Registered model names for `slot`, sorted."""
        return sorted(name for s, name in self._factories if s == slot)

    def get_component(self, slot: str, name: str) -> Callable[..., Any]:
        """The factory for (slot, name), importing it if it was registered by path."""
        factory = self._factories.get((slot, name))
        if factory is None:
            raise InputError(
                "hardware components",
                slot,
                f"no {slot} model named '{name}'",
                ", ".join(self.available(slot)) or "none registered",
            )
        if isinstance(factory, str):
            factory = resolve_import_path(factory)
            self._factories[(slot, name)] = factory
        return factory


def add_entry_points(registry: ComponentRegistry) -> None:
    """Register the models third-party packages declare in the `rctsim.components` group.

    A malformed entry-point name, or one that would shadow an already registered model, is
    skipped with a warning so one broken plug-in does not disable the tool.
    """
    for entry in _declared(metadata.entry_points, tuple(sys.path)):
        slot, _, name = entry.name.partition(".")
        if slot not in SLOTS or not name:
            warnings.warn(
                f"ignoring entry point '{entry.name}' in group {ENTRY_POINT_GROUP}: "
                f"its name must be 'slot.name' with slot one of {', '.join(SLOTS)}",
                stacklevel=2,
            )
        elif name in registry.available(slot):
            warnings.warn(
                f"ignoring entry point '{entry.name}': {slot} model '{name}' is already registered",
                stacklevel=2,
            )
        else:
            registry.register(slot, name, entry.value)


@functools.lru_cache(maxsize=8)
def _declared(entry_points: Callable[..., Any], path: tuple[str, ...]) -> tuple:
    """The group's entry points, scanned once per process for one `sys.path` (`path`) and one
    `metadata.entry_points` (scanning every installed distribution takes milliseconds, and
    every hardware load and machine build asks)."""
    return tuple(entry_points(group=ENTRY_POINT_GROUP))


def default_registry() -> ComponentRegistry:
    """A fresh registry with the bundled models and every installed entry point."""
    registry = ComponentRegistry()
    for (slot, name), path in BUILTIN_FACTORIES.items():
        registry.register(slot, name, path)
    add_entry_points(registry)
    return registry
