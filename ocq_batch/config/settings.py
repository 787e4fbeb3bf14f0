"""A :class:`~ocq_batch.config.model.Config` read back from an archive's manifest.

An export writes its settings (:meth:`Config.as_dict`) into the manifest; an analyst
opening the archive later gets the same configuration back, with the same digest.
"""

from __future__ import annotations

from dataclasses import fields, is_dataclass, replace
from datetime import datetime
from typing import Any, get_args, get_origin, get_type_hints

from ocq_batch.config.model import Config
from ocq_batch.errors import ConfigError
from ocq_batch.timeutil import parse_instant


def config_from_settings(settings: dict[str, Any], origin: str = "archive manifest") -> Config:
    """Rebuild a :class:`Config` from :meth:`Config.as_dict` (a manifest's ``config.settings``).

    Keys missing from ``settings`` keep their defaults (an archive written before a
    setting existed); an unknown key raises ConfigError naming it. The result has
    the same :meth:`Config.digest` as the config that wrote the settings.
    """
    return replace(_from_dict(Config, settings, "settings"), origin=origin)


def _from_dict(cls: Any, data: Any, where: str) -> Any:
    """One dataclass from its ``asdict`` form, field by field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a table of settings, got {data!r}")
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)} - {"origin"}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting {unknown[0]!r}; it was written by another ocq-batch version, "
            "open it with that version"
        )
    return cls(**{k: _coerce(hints[k], v, f"{where}.{k}") for k, v in data.items()})


def _coerce(hint: Any, value: Any, where: str) -> Any:
    """Turn one JSON value back into the type of its dataclass field."""
    accepted: dict[Any, tuple[type, ...]] = {float: (int, float), int: (int,), str: (str,)}
    try:
        if hint is datetime:
            return parse_instant(value)
        if is_dataclass(hint):
            return _from_dict(hint, value, where)
        if get_origin(hint) is tuple:
            item = get_args(hint)[0]
            return tuple(_coerce(item, v, f"{where}[{i}]") for i, v in enumerate(value))
        if hint in accepted:
            if isinstance(value, bool) or not isinstance(value, accepted[hint]):
                raise TypeError(f"expected {hint.__name__}")
            return hint(value)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"{where}: {value!r} cannot be read back ({exc})") from None
    return value
