"""Loading the configuration: command-line flags, ``LIGHTNINGSTOR_*`` environment, TOML file.

A process's ``main`` does::

    try:
        settings = load_settings(sys.argv[1:])
    except ConfigError as err:
        print(err, file=sys.stderr)     # names each bad field, where it came from, the file
        sys.exit(2)

Precedence, highest first: flags > ``LIGHTNINGSTOR_SECTION__FIELD`` > the spec's short names
(``LIGHTNINGSTOR_LOG_LEVEL``, ``_GRPC_ADDR``, ``_S3_ADDR``, ``_DATA_DIR``) > the TOML file
(``--config``, else ``$LIGHTNINGSTOR_CONFIG``) > defaults. With no file and no variables the
result is the embedded single-node setup. The order itself is defined once, by
``SettingsBase.config_sources``; this module supplies the flags, the environment mapping and
the file, and turns every failure into a :class:`ConfigError` instead of a traceback.
"""

from __future__ import annotations

import argparse
import os
import re
import tomllib
import typing
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from difflib import get_close_matches
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from pydantic_settings import BaseSettings as _BaseSettings
from pydantic_settings import (
    EnvSettingsSource,
    InitSettingsSource,
    PydanticBaseSettingsSource,
    SettingsError,
    TomlConfigSettingsSource,
)

from lightningstor_types.config import (
    CONFIG_ENV_VAR,
    ENV_PREFIX,
    FieldError,
    Settings,
    SettingsBase,
    StorageNodeSettings,
)

__all__ = [
    "ConfigError",
    "build_arg_parser",
    "build_storage_node_arg_parser",
    "format_validation_error",
    "load_config",
    "load_settings",
    "load_storage_node_settings",
    "settings_from_args",
    "storage_node_settings_from_args",
]

S = TypeVar("S", bound=SettingsBase)
Loc = tuple[str | int, ...]

DEFAULT_DISTRIBUTION = "lightningstor-types"
LOG_LEVELS = ("debug", "info", "warning", "error")


class ConfigError(Exception):
    """Configuration that cannot be used; ``str(err)`` is the whole message for the operator.

    ``source`` is the config file involved, if any. A process prints the message and exits 2.
    """

    def __init__(self, message: str, source: Path | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.source = source

    def __str__(self) -> str:
        return self.message


# --- the command line ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Flag:
    name: str
    path: tuple[str, ...]
    metavar: str
    help: str

    @property
    def dest(self) -> str:
        return self.name.removeprefix("--").replace("-", "_")


_LOG_LEVEL = _Flag("--log-level", ("logging", "level"), "LEVEL", "least severe level logged")
_SERVER_FLAGS = (
    _Flag("--grpc-addr", ("server", "grpc_addr"), "HOST:PORT", "gRPC listen address"),
    _Flag("--s3-addr", ("server", "s3_addr"), "HOST:PORT", "S3 listen address"),
    _Flag("--data-dir", ("server", "data_dir"), "DIR", "data directory"),
    _LOG_LEVEL,
)
_NODE_FLAGS = (
    _Flag("--listen-addr", ("listen_addr",), "HOST:PORT", "listen address"),
    _Flag("--data-dir", ("data_dir",), "DIR", "data directory"),
    _Flag("--zone", ("zone",), "ZONE", "failure domain of this node"),
    _LOG_LEVEL,
)
_FLAGS: Mapping[type[SettingsBase], tuple[_Flag, ...]] = {
    Settings: _SERVER_FLAGS,
    StorageNodeSettings: _NODE_FLAGS,
}


def _log_level(value: str) -> str:
    value = value.lower()
    return "warning" if value == "warn" else value


def _version(distribution: str) -> str:
    try:
        return version(distribution)
    except PackageNotFoundError:
        return "unknown"


def _parser(
    prog: str,
    distribution: str,
    description: str,
    flags: tuple[_Flag, ...],
    *,
    example: str,
    more: str = "",
) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog,
        description=description,
        epilog=(
            f"Every setting can also be set as {ENV_PREFIX}<SECTION>__<FIELD> "
            f"(e.g. {ENV_PREFIX}{example}). Precedence: flags, environment, "
            f"config file, defaults.{more}"
        ),
    )
    parser.add_argument(
        "-c",
        "--config",
        metavar="FILE",
        help=f"TOML configuration file (default: ${CONFIG_ENV_VAR}; none = built-in defaults)",
    )
    for flag in flags:
        help_text = f"{flag.help} (sets {'.'.join(flag.path)})"
        if flag is _LOG_LEVEL:
            parser.add_argument(
                "-l", flag.name, dest=flag.dest, type=_log_level, choices=LOG_LEVELS, help=help_text
            )
        else:
            parser.add_argument(flag.name, dest=flag.dest, metavar=flag.metavar, help=help_text)
    parser.add_argument(
        "-V", "--version", action="version", version=f"%(prog)s {_version(distribution)}"
    )
    return parser


SERVER_COMMANDS = (
    " Other commands: `%(prog)s backup --to FILE` (a copy of the embedded metadata store, "
    "while the server runs; `%(prog)s backup --help`), `%(prog)s keygen FILE` (a new key "
    "for iam.secret_key_file)."
)


def build_arg_parser(
    prog: str,
    *,
    distribution: str = DEFAULT_DISTRIBUTION,
    description: str = "LightningStor object store server.",
    only: Sequence[str] | None = None,
    more: str = "",
) -> argparse.ArgumentParser:
    """The server's flags: -c/--config, --grpc-addr, --s3-addr, --data-dir, -l/--log-level, -V.

    ``-V`` prints ``{prog} {version of distribution}`` and exits 0. A caller may add flags of its
    own before parsing, then hand the namespace to :func:`settings_from_args`; another program
    reading the same settings (the S3 gateway) names itself in ``description`` and keeps the
    flags it uses with ``only`` (e.g. ``("--s3-addr", "--log-level")``); ``more`` ends the epilog.
    """
    flags = _SERVER_FLAGS if only is None else tuple(f for f in _SERVER_FLAGS if f.name in only)
    return _parser(
        prog, distribution, description, flags, example="STORAGE__CHUNK_SIZE=16MiB", more=more
    )


def build_storage_node_arg_parser(
    prog: str, *, distribution: str = DEFAULT_DISTRIBUTION
) -> argparse.ArgumentParser:
    """A storage node's flags: -c/--config, --listen-addr, --data-dir, --zone, -l, -V."""
    return _parser(
        prog,
        distribution,
        "LightningStor storage node.",
        _NODE_FLAGS,
        example="LOGGING__FORMAT=json",
    )


def _overrides(args: argparse.Namespace, flags: tuple[_Flag, ...]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for flag in flags:
        value = getattr(args, flag.dest, None)
        if value is None:
            continue
        target = values
        for part in flag.path[:-1]:
            target = target.setdefault(part, {})
        target[flag.path[-1]] = value
    return values


def _from_args(settings_cls: type[S], args: argparse.Namespace, env: Mapping[str, str] | None) -> S:
    config = getattr(args, "config", None)
    return load_config(
        settings_cls,
        config_file=config,
        overrides=_overrides(args, _FLAGS[settings_cls]),
        env=env,
        config_named_by="--config",
    )


def settings_from_args(args: argparse.Namespace, env: Mapping[str, str] | None = None) -> Settings:
    """Settings from a namespace parsed by :func:`build_arg_parser` (env: default os.environ)."""
    return _from_args(Settings, args, env)


def storage_node_settings_from_args(
    args: argparse.Namespace, env: Mapping[str, str] | None = None
) -> StorageNodeSettings:
    """Storage node settings from a namespace parsed by :func:`build_storage_node_arg_parser`."""
    return _from_args(StorageNodeSettings, args, env)


def load_settings(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    prog: str = "lightningstor-server",
    distribution: str = DEFAULT_DISTRIBUTION,
) -> Settings:
    """The server's settings from ``argv`` (default sys.argv[1:]) and ``env`` (default os.environ).

    Raises :class:`ConfigError`; bad flags, ``-h`` and ``-V`` exit through argparse.
    """
    parser = build_arg_parser(prog, distribution=distribution, more=SERVER_COMMANDS)
    return settings_from_args(parser.parse_args(argv), env)


def load_storage_node_settings(
    argv: Sequence[str] | None = None,
    env: Mapping[str, str] | None = None,
    *,
    prog: str = "lightningstor-storage-node",
    distribution: str = DEFAULT_DISTRIBUTION,
) -> StorageNodeSettings:
    """A storage node's settings; as :func:`load_settings`."""
    args = build_storage_node_arg_parser(prog, distribution=distribution).parse_args(argv)
    return storage_node_settings_from_args(args, env)


# --- the sources -----------------------------------------------------------------------------


class _EnvironSource(EnvSettingsSource):
    """``LIGHTNINGSTOR_*`` variables read from a given mapping instead of os.environ."""

    def __init__(self, settings_cls: type[_BaseSettings], environ: Mapping[str, str]) -> None:
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {
            name.lower(): value
            for name, value in self._environ.items()
            if value != "" or not self.env_ignore_empty
        }


def load_config(
    settings_cls: type[S],
    *,
    config_file: str | os.PathLike[str] | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    config_named_by: str = "config_file",
) -> S:
    """Build ``settings_cls`` from ``overrides`` (nested dict, highest priority), ``env``
    (default os.environ), the TOML file (``config_file``, else ``$LIGHTNINGSTOR_CONFIG``) and
    the defaults. Raises :class:`ConfigError`.
    """
    environ: Mapping[str, str] = os.environ if env is None else env
    path: Path | None = None
    if config_file is not None and str(config_file):
        path, named_by = Path(config_file).expanduser(), config_named_by
    elif environ.get(CONFIG_ENV_VAR):
        path, named_by = Path(environ[CONFIG_ENV_VAR]).expanduser(), f"${CONFIG_ENV_VAR}"
    if path is not None and not path.is_file():
        what = "is not a file" if path.exists() else "does not exist"
        raise ConfigError(f"config file {path} {what} (named by {named_by})", path)

    init = InitSettingsSource(settings_cls, init_kwargs=dict(overrides or {}))
    env_source = _EnvironSource(settings_cls, environ)
    try:
        sources = settings_cls.config_sources(init, env_source, path)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: invalid TOML: {exc}", path) from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason})", path) from exc
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}", path) from exc
    except ValueError as exc:  # a specification name that contradicts ours (config_spec)
        raise ConfigError(f"{path}: {exc}", path) from exc

    try:
        # _build_sources is a documented BaseSettings.__init__ parameter; mypy sees only the
        # fields (dataclass_transform), hence the ignore.
        return settings_cls(_build_sources=(sources, {}))  # type: ignore[call-arg]
    except ValidationError as exc:
        origin = _Origins(settings_cls, sources, init, env_source, environ, path)
        raise ConfigError(format_validation_error(exc, path, origin), path) from exc
    except SettingsError as exc:
        # A variable holding a section or a list as JSON that does not parse.
        field = re.search(r'field "([^"]+)"', str(exc))
        names = f"{ENV_PREFIX}{field.group(1).upper() if field else ''}*"
        raise ConfigError(
            f"invalid JSON in the {names} environment variables: {exc.__cause__ or exc}", path
        ) from exc


# --- error messages --------------------------------------------------------------------------


def _dotted(loc: Loc) -> str:
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


def _has(data: object, loc: Loc) -> bool:
    for part in loc:
        in_mapping = isinstance(data, Mapping) and part in data
        in_list = isinstance(data, list) and isinstance(part, int) and part < len(data)
        if not (in_mapping or in_list):
            return False
        data = data[part]  # type: ignore[index]
    return True


class _Origins:
    """Which source gave a field its value: a flag, a variable, or the config file."""

    def __init__(
        self,
        settings_cls: type[SettingsBase],
        sources: tuple[PydanticBaseSettingsSource, ...],
        cli: PydanticBaseSettingsSource,
        env: PydanticBaseSettingsSource,
        environ: Mapping[str, str],
        path: Path | None,
    ) -> None:
        flags = {flag.path: flag.name for flag in _FLAGS.get(settings_cls, ())}
        short = {path: name for name, path in settings_cls.short_env_names.items()}
        env_names = {name.upper() for name in environ}

        def _cli(loc: Loc) -> str:
            return flags.get(tuple(str(p) for p in loc), "the command line")

        def _short(loc: Loc) -> str:
            return short.get(tuple(str(p) for p in loc), "the environment")

        def _file(loc: Loc) -> str:
            return str(path)

        def nested_env(loc: Loc) -> str:
            names: list[str] = []
            for part in loc:
                if isinstance(part, int):  # a list is set as one JSON value
                    break
                names.append(part.upper())
            name = ENV_PREFIX + "__".join(names)
            below = sorted(n for n in env_names if n.startswith(name + "__"))
            if name not in env_names and below:
                return below[0] if len(below) == 1 else f"the {name}__* variables"
            while names:
                name = ENV_PREFIX + "__".join(names)
                if name in env_names:
                    return name
                names.pop()
            return f"the {ENV_PREFIX}* environment"

        self._layers: list[tuple[dict[str, Any], Callable[[Loc], str]]] = []
        for source in sources:
            if source is cli:
                describe = _cli
            elif source is env:
                describe = nested_env
            elif isinstance(source, TomlConfigSettingsSource):
                describe = _file
            else:
                describe = _short
            self._layers.append((source(), describe))

    def __call__(self, loc: Loc) -> str | None:
        for data, describe in self._layers:
            if _has(data, loc):
                return describe(loc)
        return None


def _inner_model(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        found = _inner_model(arg)
        if found is not None:
            return found
    return None


def _field_names(model: type[BaseModel] | None, loc: Loc) -> list[str]:
    """The fields (and aliases) accepted at ``loc`` below ``model``."""
    for part in loc:
        if model is None:
            return []
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part) or next(
            (f for f in model.model_fields.values() if part in _aliases(f.validation_alias)), None
        )
        model = _inner_model(field.annotation) if field is not None else None
    if model is None:
        return []
    names = list(model.model_fields)
    for field in model.model_fields.values():
        names.extend(_aliases(field.validation_alias))
    return names


def _aliases(alias: object) -> list[str]:
    choices = getattr(alias, "choices", None)
    if isinstance(alias, str):
        return [alias]
    return [c for c in choices if isinstance(c, str)] if choices else []


_MODELS: Mapping[str, type[BaseModel]] = {cls.__name__: cls for cls in _FLAGS}


def _describe(error: Mapping[str, Any], model: type[BaseModel] | None) -> tuple[Loc, str]:
    loc: Loc = tuple(error["loc"])
    kind, ctx = error["type"], error.get("ctx") or {}
    cause = ctx.get("error")
    if kind == "value_error" and isinstance(cause, FieldError):
        return loc + cause.at, str(cause)
    if kind == "value_error" and cause is not None:
        return loc, str(cause)
    if kind == "extra_forbidden":
        known = _field_names(model, loc[:-1])
        close = get_close_matches(str(loc[-1]), known, n=1) if loc else []
        return loc, "unknown field" + (f" (did you mean {close[0]!r}?)" if close else "")
    if kind == "missing":
        return loc, "required but not set"
    if kind == "literal_error":
        return loc, f"must be {ctx.get('expected')}, got {error.get('input')!r}"
    return loc, str(error["msg"])


def format_validation_error(
    err: ValidationError,
    source: str | os.PathLike[str] | None = None,
    origin: Callable[[Loc], str | None] | None = None,
) -> str:
    """One line per failing field, as a dotted path::

        invalid configuration in config/cluster.toml:
          storage.chunk_size: must be between 1 MiB and 64 MiB, got 512 KiB
          server.s3_addr: invalid address 'x': expected host:port ... (from LIGHTNINGSTOR_S3_ADDR)

    ``source`` names the config file; ``origin(loc)``, when given, names where the value at
    ``loc`` came from (None if nowhere) and is shown when that is not the file itself.
    """
    model = _MODELS.get(err.title)
    header = (
        f"invalid configuration in {os.fspath(source)}:" if source else "invalid configuration:"
    )
    lines = [header]
    for error in err.errors():
        loc, message = _describe(error, model)
        where = None
        if origin is not None:
            # A cross-field check names a field below the model it ran on; when that field was
            # not set anywhere, the source that set the model is the best answer.
            lowest = len(error["loc"]) or len(loc)
            for length in range(len(loc), lowest - 1, -1):
                where = origin(loc[:length])
                if where is not None:
                    break
        suffix = (
            f" (from {where})" if where and (source is None or where != os.fspath(source)) else ""
        )
        lines.append(f"  {_dotted(loc) or '(top level)'}: {message}{suffix}")
    return "\n".join(lines)
