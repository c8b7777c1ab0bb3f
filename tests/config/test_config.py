"""The configuration model and its loader: defaults, sources and their order, every validator."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import typing
from importlib.metadata import version
from pathlib import Path

import pytest
from pydantic import BaseModel, ValidationError

from lightningstor_types.config import (
    BUILTIN_ROLES,
    GiB,
    MiB,
    Settings,
    StorageNodeSettings,
    TiB,
    format_size,
    parse_duration,
    parse_size,
    split_address,
)
from lightningstor_types.config_loader import (
    ConfigError,
    build_arg_parser,
    build_storage_node_arg_parser,
    format_validation_error,
    load_config,
    load_settings,
    load_storage_node_settings,
)

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
EXAMPLES = ["single-node.toml", "cluster.toml", "storage-node.toml"]


def write(tmp_path: Path, text: str, name: str = "lightningstor.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def config_error(argv: list[str], env: dict[str, str] | None = None) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(argv, env or {})
    return str(info.value)


# --- defaults and example files -------------------------------------------------------------


def test_no_file_no_env_is_the_embedded_single_node_setup() -> None:
    settings = load_settings([], env={})
    assert settings.server.s3_addr == "0.0.0.0:9000"
    assert settings.server.grpc_addr == "0.0.0.0:9001"
    assert settings.server.data_dir == Path("data")
    assert settings.metadata.backend == "embedded"
    assert settings.metadata.embedded_path(settings) == Path("data/metadata.db")
    assert settings.storage.backend == "local"
    assert settings.storage.local_path(settings) == Path("data")
    assert settings.storage.chunk_size == 8 * MiB
    assert settings.storage.distributed.effective_write_quorum == 2
    assert settings.iam.mode == "embedded"
    assert settings.iam.secret_key_path(settings) == Path("data/secret.key")
    assert settings.iam.effective_roles() == dict(BUILTIN_ROLES)
    assert settings.limits.max_object_size == 5 * TiB
    assert settings.limits.max_put_size == 5 * GiB
    assert settings.logging.level == "info"
    assert settings.logging.format == "json"
    assert settings.metrics.addr is None
    assert settings == Settings()


def test_paths_follow_data_dir_unless_set(tmp_path: Path) -> None:
    settings = load_settings(["--data-dir", str(tmp_path)], env={})
    assert settings.metadata.embedded_path(settings) == tmp_path / "metadata.db"
    assert settings.storage.local_path(settings) == tmp_path
    assert settings.iam.secret_key_path(settings) == tmp_path / "secret.key"
    path = write(tmp_path, '[metadata]\npath = "/m/meta.db"\n[storage]\nlocal_dir = "/c"\n')
    settings = load_settings(["-c", str(path)], env={})
    assert settings.metadata.embedded_path(settings) == Path("/m/meta.db")
    assert settings.storage.local_path(settings) == Path("/c")


@pytest.mark.parametrize("name", EXAMPLES)
def test_example_files_load_and_validate(name: str) -> None:
    path = CONFIG_DIR / name
    if name == "storage-node.toml":
        node = load_storage_node_settings(["-c", str(path)], env={})
        assert node.tls is not None and node.tls.ca_file is not None
    else:
        settings = load_settings(["-c", str(path)], env={})
        assert Settings.model_validate(settings.model_dump()) == settings


def test_processes_default_to_the_usable_cpus() -> None:
    assert load_settings([], env={}).server.processes == min(len(os.sched_getaffinity(0)), 64)
    env = {"LIGHTNINGSTOR_SERVER__PROCESSES": "1"}
    assert load_settings([], env=env).server.processes == 1  # one process is still possible
    # A process allowed one CPU (a cpuset, taskset) gets one process; in a child, so this
    # process keeps its own affinity.
    code = (
        "import os; os.sched_setaffinity(0, {min(os.sched_getaffinity(0))}); "
        "from lightningstor_types.config_loader import load_settings; "
        "print(load_settings([], env={}).server.processes)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True
    )
    assert done.stdout.strip() == "1"


def test_single_node_example_is_the_defaults() -> None:
    path = CONFIG_DIR / "single-node.toml"
    assert load_settings(["-c", str(path)], env={}) == load_settings([], env={})


def test_cluster_example() -> None:
    settings = load_settings(["-c", str(CONFIG_DIR / "cluster.toml")], env={})
    assert settings.metadata.backend == "etcd"
    assert len(settings.metadata.endpoints) == 3
    dist = settings.storage.distributed
    assert settings.storage.backend == "distributed"
    assert dist.placement_strategy == "zone_aware"
    assert len(dist.nodes) >= dist.replication_factor
    assert len({node.zone for node in dist.nodes}) >= 3
    assert settings.iam.mode == "external"
    assert settings.iam.endpoint is not None


_KEY_RE = re.compile(r"^#?\s*([a-z0-9_]+)\s*=")
_TABLE_RE = re.compile(r"^#?\s*\[\[?([a-z0-9_.]+)\]\]?")


def _documented(path: Path) -> set[tuple[str, str]]:
    table, found = "", set()
    for line in path.read_text().splitlines():
        if m := _TABLE_RE.match(line):
            table = m.group(1)
            found.add((table.rpartition(".")[0], table.rpartition(".")[2]))  # [iam.roles]
        elif m := _KEY_RE.match(line):
            found.add((table, m.group(1)))
    return found


def _model_of(annotation: object) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if (model := _model_of(arg)) is not None:
            return model
    return None


def _fields(model: type[BaseModel], table: str = "") -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for name, field in model.model_fields.items():
        inner = _model_of(field.annotation)
        if inner is None:
            found.add((table, name))
        else:
            found |= _fields(inner, f"{table}.{name}".lstrip("."))
    return found


@pytest.mark.parametrize(
    ("name", "model"), [("single-node.toml", Settings), ("storage-node.toml", StorageNodeSettings)]
)
def test_example_files_document_every_field(name: str, model: type[BaseModel]) -> None:
    missing = _fields(model) - _documented(CONFIG_DIR / name)
    assert not missing, f"{name} does not mention: {sorted(missing)}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_every_example_setting_has_a_comment(name: str) -> None:
    for line in (CONFIG_DIR / name).read_text().splitlines():
        if _KEY_RE.match(line) and not _TABLE_RE.match(line):
            assert re.search(r"\S\s+#\s*\S", line.lstrip("# ")), f"{name}: no comment: {line}"


def test_every_field_has_a_description() -> None:
    def walk(model: type[BaseModel]) -> None:
        for name, field in model.model_fields.items():
            assert field.description, f"{model.__name__}.{name} has no docstring"
            if (inner := _model_of(field.annotation)) is not None:
                walk(inner)

    walk(Settings)
    walk(StorageNodeSettings)


# --- sources and their order ----------------------------------------------------------------


def test_env_overrides_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\ns3_addr = "127.0.0.1:7000"\ngrpc_addr = "127.0.0.1:7001"\n')
    settings = load_settings(
        ["-c", str(path)], env={"LIGHTNINGSTOR_SERVER__S3_ADDR": "127.0.0.1:8000"}
    )
    assert settings.server.s3_addr == "127.0.0.1:8000"
    assert settings.server.grpc_addr == "127.0.0.1:7001"  # the rest of the section stays


def test_cli_overrides_env_and_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\ns3_addr = "127.0.0.1:7000"\n[logging]\nlevel = "error"\n')
    env = {"LIGHTNINGSTOR_SERVER__S3_ADDR": "127.0.0.1:8000", "LIGHTNINGSTOR_LOG_LEVEL": "info"}
    argv = ["-c", str(path), "--s3-addr", "127.0.0.1:9500", "-l", "DEBUG"]
    argv += ["--grpc-addr", "[::1]:9501", "--data-dir", str(tmp_path)]
    settings = load_settings(argv, env=env)
    assert settings.server.s3_addr == "127.0.0.1:9500"
    assert settings.server.grpc_addr == "[::1]:9501"
    assert settings.server.data_dir == tmp_path
    assert settings.logging.level == "debug"


def test_nested_env_vars() -> None:
    env = {
        "LIGHTNINGSTOR_STORAGE__CHUNK_SIZE": "16MiB",
        "LIGHTNINGSTOR_STORAGE__DISTRIBUTED__REPLICATION_FACTOR": "2",
        "LIGHTNINGSTOR_STORAGE__GC_GRACE_SECONDS": "1h30m",
        "lightningstor_limits__max_keys": "500",  # names are case-insensitive
        "LIGHTNINGSTOR_METADATA__ENDPOINTS": "etcd-1:2379, etcd-2:2379",
        "LIGHTNINGSTOR_S3__ROOT_DOMAINS": '["S3.Example.com"]',
        "LIGHTNINGSTOR_IAM__ROLES__AUDITOR": '["lightningstor:objects:list"]',
        "LIGHTNINGSTOR_METADATA__PASSWORD": "hunter2",
        "LIGHTNINGSTOR_METADATA__USERNAME": "ls",
        "LIGHTNINGSTOR_SERVER__TLS__CERT_FILE": "/tls/c.pem",
        "LIGHTNINGSTOR_SERVER__TLS__KEY_FILE": "/tls/k.pem",
        "LIGHTNINGSTOR_UNRELATED": "ignored",
        "LIGHTNINGSTOR_STORAGE__BACKEND": "",  # empty = unset
    }
    settings = load_settings([], env=env)
    assert settings.storage.chunk_size == 16 * MiB
    assert settings.storage.distributed.replication_factor == 2
    assert settings.storage.gc_grace_seconds == 5400
    assert settings.storage.backend == "local"
    assert settings.limits.max_keys == 500
    assert settings.metadata.endpoints == ["etcd-1:2379", "etcd-2:2379"]
    assert settings.s3.root_domains == ["s3.example.com"]
    assert settings.iam.effective_roles()["auditor"] == ("lightningstor:objects:list",)
    assert settings.metadata.password is not None
    assert settings.metadata.password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)
    assert settings.server.tls is not None and settings.server.tls.key_file == Path("/tls/k.pem")


def test_spec_short_env_names(tmp_path: Path) -> None:
    env = {
        "LIGHTNINGSTOR_LOG_LEVEL": "WARN",
        "LIGHTNINGSTOR_GRPC_ADDR": "127.0.0.1:19001",
        "LIGHTNINGSTOR_S3_ADDR": "127.0.0.1:19000",
        "LIGHTNINGSTOR_DATA_DIR": str(tmp_path),
    }
    settings = load_settings([], env=env)
    assert settings.logging.level == "warning"
    assert settings.server.grpc_addr == "127.0.0.1:19001"
    assert settings.server.s3_addr == "127.0.0.1:19000"
    assert settings.server.data_dir == tmp_path


def test_nested_env_name_wins_over_short_name_and_short_over_file(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\ns3_addr = "127.0.0.1:1"\ngrpc_addr = "127.0.0.1:2"\n')
    env = {
        "LIGHTNINGSTOR_S3_ADDR": "127.0.0.1:3",
        "LIGHTNINGSTOR_SERVER__S3_ADDR": "127.0.0.1:4",
        "LIGHTNINGSTOR_GRPC_ADDR": "127.0.0.1:5",
    }
    settings = load_settings(["-c", str(path)], env=env)
    assert settings.server.s3_addr == "127.0.0.1:4"
    assert settings.server.grpc_addr == "127.0.0.1:5"


def test_config_file_from_env_and_flag_precedence(tmp_path: Path) -> None:
    from_env = write(tmp_path, '[s3]\nregion = "eu-west-1"\n', "env.toml")
    from_flag = write(tmp_path, '[s3]\nregion = "eu-west-2"\n', "flag.toml")
    env = {"LIGHTNINGSTOR_CONFIG": str(from_env)}
    assert load_settings([], env=env).s3.region == "eu-west-1"
    assert load_settings(["--config", str(from_flag)], env=env).s3.region == "eu-west-2"


def test_settings_class_reads_the_process_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, '[storage]\nchunk_size = "4MiB"\n')
    monkeypatch.setenv("LIGHTNINGSTOR_CONFIG", str(path))
    monkeypatch.setenv("LIGHTNINGSTOR_S3_ADDR", "127.0.0.1:1234")
    settings = Settings()
    assert settings.storage.chunk_size == 4 * MiB
    assert settings.server.s3_addr == "127.0.0.1:1234"
    assert load_settings([]) == settings  # env=None: os.environ
    # init kwargs rank like flags
    assert Settings(storage={"chunk_size": MiB}).storage.chunk_size == MiB  # type: ignore[arg-type]


def test_settings_class_refuses_a_missing_config_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LIGHTNINGSTOR_CONFIG", str(tmp_path / "nope.toml"))
    with pytest.raises(FileNotFoundError, match="config file not found"):
        Settings()


def test_chainfire_endpoints_alias(tmp_path: Path) -> None:
    text = '[metadata]\nbackend = "etcd"\nchainfire_endpoints = ["a:2379", "b:2379"]\n'
    settings = load_settings(["-c", str(write(tmp_path, text))], env={})
    assert settings.metadata.endpoints == ["a:2379", "b:2379"]
    env = {"LIGHTNINGSTOR_METADATA__CHAINFIRE_ENDPOINTS": "c:2379"}
    assert load_settings([], env=env).metadata.endpoints == ["c:2379"]
    both = text + 'endpoints = ["c:2379"]\n'
    message = config_error(["-c", str(write(tmp_path, both))])
    assert "metadata.chainfire_endpoints: set endpoints or chainfire_endpoints, not both" in message


def test_settings_are_immutable() -> None:
    settings = load_settings([], env={})
    with pytest.raises(ValidationError):
        settings.storage.chunk_size = 1
    changed = settings.model_copy(update={"s3": settings.s3.model_copy(update={"enabled": False})})
    assert not changed.s3.enabled


# --- validation errors ----------------------------------------------------------------------

NODE = '[[storage.distributed.nodes]]\naddress = "{}"\nzone = "{}"\n'


@pytest.mark.parametrize(
    ("toml", "expected"),
    [
        ("[storage]\nchunk_size = 1024\n", "storage.chunk_size: must be between 1 MiB and 64 MiB"),
        ('[storage]\nchunk_size = "65MiB"\n', "storage.chunk_size: must be between 1 MiB and 64"),
        ('[storage]\nchunk_size = "eight"\n', "storage.chunk_size: invalid size 'eight'"),
        ('[metadata]\nbackend = "etcd"\n', 'metadata.endpoints: backend "etcd" needs at least'),
        ('[metadata]\nbackend = "etc"\n', "metadata.backend: must be 'embedded' or 'etcd'"),
        ('[metadata]\nusername = "u"\n', "metadata.password: username and password must be set"),
        ('[metadata]\nprefix = "ls"\n', 'metadata.prefix: must end with "/"'),
        (
            '[storage]\nbackend = "distributed"\n'
            + NODE.format("a:1", "z")
            + NODE.format("b:1", "z"),
            'storage.distributed.nodes: backend "distributed" needs at least replication_factor',
        ),
        (
            "[storage.distributed]\nreplication_factor = 3\nwrite_quorum = 4\n",
            "storage.distributed.write_quorum: must be at most replication_factor (3), got 4",
        ),
        (
            "[storage.distributed]\nreplication_factor = 8\n",
            "storage.distributed.replication_factor: Input should be less than or equal to 7",
        ),
        (
            '[storage.distributed]\nplacement_strategy = "zone_aware"\n'
            '[[storage.distributed.nodes]]\naddress = "a:1"\n',
            'storage.distributed.nodes[0].zone: required by placement "zone_aware"',
        ),
        (
            NODE.format("a:1", "x") + NODE.format("a:1", "y"),
            "storage.distributed.nodes[1].address: duplicate node a:1",
        ),
        (NODE.format("nohost", "z"), "storage.distributed.nodes[0].address: invalid address"),
        ('[server]\ns3_addr = "localhost"\n', "server.s3_addr: invalid address 'localhost'"),
        ('[server]\ns3_addr = "h:65536"\n', "server.s3_addr: invalid address 'h:65536': the port"),
        (
            '[server]\ngrpc_addr = "::1:9001"\n',
            "server.grpc_addr: invalid address '::1:9001': write",
        ),
        ('[server]\ngrpc_addr = "[::g]:9]"\n', "server.grpc_addr: invalid address '[::g]:9]'"),
        (
            '[server]\ngrpc_addr = "[::g]:9001"\n',
            "server.grpc_addr: invalid address '[::g]:9001': '::g' is",
        ),
        ('[server]\ngrpc_addr = "0.0.0.0:9000"\n', "server.s3_addr: 0.0.0.0:9000 clashes with"),
        ("[server]\ns3_workers = 0\n", "server.s3_workers: Input should be greater than or equal"),
        ("[server]\nprocesses = 0\n", "server.processes: Input should be greater than or equal"),
        ("[server]\nprocesses = 65\n", "server.processes: Input should be less than or equal"),
        ('[server.tls]\ncert_file = "c.pem"\n', "server.tls.key_file: required but not set"),
        ('[metadata.tls]\ncert_file = "c.pem"\n', "metadata.tls.key_file: required when cert_file"),
        (
            '[server.tls]\ncert_file = "c"\nkey_file = "k"\n'
            '[[server.tls.principals]]\nsubject_cn = "svc"\nprincipal = "o/svc"\n',
            "server.tls.principals: need ca_file",
        ),
        (
            '[server.tls]\ncert_file = "c"\nkey_file = "k"\nca_file = "a"\n'
            '[[server.tls.principals]]\nsubject_cn = "svc"\nsan = "x"\nprincipal = "o/svc"\n',
            "server.tls.principals[0].subject_cn: set exactly one of subject_cn and san",
        ),
        (
            '[server.tls]\ncert_file = "c"\nkey_file = "k"\nca_file = "a"\n'
            '[[server.tls.principals]]\nsan = "x"\nprincipal = "svc"\n',
            'server.tls.principals[0].principal: must be "org/id" or "org/project/id"',
        ),
        (
            "[iam]\ngrpc_signature_window_seconds = 901\n",
            "iam.grpc_signature_window_seconds: Input",
        ),
        (
            "[storage]\nchunk_sizee = 1\n",
            "storage.chunk_sizee: unknown field (did you mean 'chunk_size'?)",
        ),
        ("[storag]\n", "storag: unknown field (did you mean 'storage'?)"),
        ('[iam]\nmode = "external"\n', 'iam.endpoint: required for mode "external"'),
        ('[iam]\nsecret_key = "k"\nsecret_key_file = "f"\n', "iam.secret_key: set secret_key or"),
        ('[iam]\njwks_url = "ftp://x"\n', "iam.jwks_url: must be an http(s) URL"),
        ("[iam]\ndecision_cache_ttl_seconds = 301\n", "iam.decision_cache_ttl_seconds: Input"),
        ('[iam.roles]\nr = ["objects:*"]\n', "iam.roles.r[0]: invalid action pattern 'objects:*'"),
        (
            '[[iam.bindings]]\nprincipal = "p"\nrole = "boss"\norg = "o"\n',
            "iam.bindings[0].role: unknown role 'boss'; known: admin, editor, viewer",
        ),
        ('[s3]\nregion = "US East"\n', "s3.region: invalid region 'US East'"),
        ('[s3]\nroot_domains = ["bad domain"]\n', "s3.root_domains[0]: invalid domain"),
        ("[s3]\npresign_max_expiry_seconds = 604801\n", "s3.presign_max_expiry_seconds: Input"),
        (
            '[limits]\nmin_part_size = "6GiB"\n',
            "limits.min_part_size: must not exceed max_part_size (5 GiB), got 6 GiB",
        ),
        (
            '[limits]\nmax_put_size = "6TiB"\n',
            "limits.max_put_size: must not exceed max_object_size",
        ),
        ("[limits]\nmax_keys = 0\n", "limits.max_keys: Input should be greater than or equal to 1"),
        ("[limits]\nmax_part_size = 0\n", "limits.max_part_size: Input should be greater than 0"),
        ("[limits]\nmax_parts = 10001\n", "limits.max_parts: Input should be less than or equal"),
        ('[logging]\nlevel = "loud"\n', "logging.level: must be 'debug', 'info', 'warning' or"),
        ('[storage]\ngc_grace_seconds = "6 hours"\n', "storage.gc_grace_seconds: invalid duration"),
        (
            "[tracing]\nsample_ratio = 2\n",
            "tracing.sample_ratio: Input should be less than or equal",
        ),
    ],
)
def test_validators_name_the_dotted_field(tmp_path: Path, toml: str, expected: str) -> None:
    path = write(tmp_path, toml)
    message = config_error(["-c", str(path)])
    assert message.startswith(f"invalid configuration in {path}:\n"), message
    assert f"\n  {expected}" in message, message
    assert "Traceback" not in message and "pydantic" not in message


def test_every_failing_field_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path, '[storage]\nchunk_size = 1\n[server]\ns3_addr = "x"\n[limits]\nmax_keys = 0\n'
    )
    lines = config_error(["-c", str(path)]).splitlines()[1:]
    assert [line.split(":")[0].strip() for line in lines] == [
        "server.s3_addr",
        "storage.chunk_size",
        "limits.max_keys",
    ]


def test_errors_name_the_variable_or_flag_that_set_the_value(tmp_path: Path) -> None:
    message = config_error([], {"LIGHTNINGSTOR_STORAGE__CHUNK_SIZE": "1"})
    assert message == (
        "invalid configuration:\n"
        "  storage.chunk_size: must be between 1 MiB and 64 MiB, got 1 byte "
        "(from LIGHTNINGSTOR_STORAGE__CHUNK_SIZE)"
    )
    assert "(from LIGHTNINGSTOR_S3_ADDR)" in config_error([], {"LIGHTNINGSTOR_S3_ADDR": "x"})
    assert "(from --grpc-addr)" in config_error(["--grpc-addr", "bad"])
    message = config_error([], {"LIGHTNINGSTOR_METADATA__BACKEND": "etcd"})
    assert "metadata.endpoints: " in message and "(from LIGHTNINGSTOR_METADATA__BACKEND)" in message
    path = write(tmp_path, '[metadata]\nbackend = "etcd"\n')
    message = config_error(["-c", str(path)])
    assert "(from" not in message  # the file is named once, in the first line


def test_bad_json_in_env_is_a_config_error() -> None:
    message = config_error([], {"LIGHTNINGSTOR_STORAGE": "{bad"})
    assert message.startswith("invalid JSON in the LIGHTNINGSTOR_STORAGE* environment variables")
    message = config_error([], {"LIGHTNINGSTOR_METADATA__ENDPOINTS": "[bad"})
    assert "metadata.endpoints: invalid JSON list '[bad'" in message


def test_bad_toml_syntax_names_the_file_and_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[server]\ns3_addr = "127.0.0.1:9000"\ngrpc_addr = \n')
    message = config_error(["-c", str(path)])
    assert message.startswith(f"{path}: invalid TOML: ")
    assert "line 3" in message


def test_config_file_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.toml"
    path.write_bytes(b'[s3]\nregion = "\xe9"\n')
    assert "not UTF-8" in config_error(["-c", str(path)])


def test_missing_config_file_is_an_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    assert config_error(["-c", str(missing)]) == (
        f"config file {missing} does not exist (named by --config)"
    )
    message = config_error([], {"LIGHTNINGSTOR_CONFIG": str(missing)})
    assert message == f"config file {missing} does not exist (named by $LIGHTNINGSTOR_CONFIG)"
    assert "is not a file" in config_error(["-c", str(tmp_path)])
    with pytest.raises(ConfigError) as info:
        load_config(Settings, config_file=missing, env={})
    assert info.value.source == missing


def test_format_validation_error_directly() -> None:
    with pytest.raises(ValidationError) as info:
        Settings.model_validate({"storage": {"chunk_size": "1KiB"}, "s3": {"enabled": "maybe"}})
    text = format_validation_error(info.value, "x.toml")
    assert text.splitlines() == [
        "invalid configuration in x.toml:",
        "  storage.chunk_size: must be between 1 MiB and 64 MiB, got 1 KiB",
        "  s3.enabled: Input should be a valid boolean, unable to interpret input",
    ]
    assert format_validation_error(info.value, None).startswith("invalid configuration:\n")


# --- command line ---------------------------------------------------------------------------


def test_version_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        load_settings(["-V"], env={})
    assert info.value.code == 0
    assert capsys.readouterr().out == f"lightningstor-server {version('lightningstor-types')}\n"
    with pytest.raises(SystemExit) as info:
        build_arg_parser("gateway", distribution="pydantic").parse_args(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out == f"gateway {version('pydantic')}\n"


def test_unknown_flag_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        load_settings(["--s3-adr", "x"], env={})
    assert info.value.code == 2
    assert "unrecognized arguments" in capsys.readouterr().err


def test_help_lists_the_flags() -> None:
    text = build_arg_parser("lightningstor-server").format_help()
    for flag in ("--config", "--grpc-addr", "--s3-addr", "--data-dir", "--log-level", "--version"):
        assert flag in text
    assert "--listen-addr" in build_storage_node_arg_parser("node").format_help()


# --- storage node ---------------------------------------------------------------------------


def test_storage_node_settings(tmp_path: Path) -> None:
    node = load_storage_node_settings([], env={})
    assert node.listen_addr == "0.0.0.0:9002"
    assert node.data_dir == Path("data")
    assert node.tls is None
    env = {
        "LIGHTNINGSTOR_LISTEN_ADDR": "127.0.0.1:7002",
        "LIGHTNINGSTOR_DATA_DIR": str(tmp_path),
        "LIGHTNINGSTOR_LOG_LEVEL": "debug",
        "LIGHTNINGSTOR_SERVER__S3_ADDR": "ignored:1",  # the server's variables do not apply
    }
    node = load_storage_node_settings([], env=env)
    assert (node.listen_addr, node.data_dir, node.logging.level) == (
        "127.0.0.1:7002",
        tmp_path,
        "debug",
    )
    node = load_storage_node_settings(["--zone", "z1", "--listen-addr", "[::]:0"], env=env)
    assert (node.zone, node.listen_addr) == ("z1", "[::]:0")
    path = write(tmp_path, 'listen_addr = "x"\n[tls]\nkey_file = "k"\n')
    with pytest.raises(ConfigError) as info:
        load_storage_node_settings(["-c", str(path)], env={})
    assert str(info.value).splitlines()[1:] == [
        "  listen_addr: invalid address 'x': expected host:port, e.g. 0.0.0.0:9000 or [::1]:9000",
        "  tls.cert_file: required but not set",
    ]


# --- value types ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        (4096, 4096),
        ("4096", 4096),
        ("8MiB", 8 * MiB),
        ("8 mib", 8 * MiB),
        ("8Mi", 8 * MiB),
        ("1.5GiB", 3 * GiB // 2),
        ("5TiB", 5 * TiB),
        ("2MB", 2_000_000),
        ("1k", 1000),
        ("10B", 10),
    ],
)
def test_parse_size(text: object, size: int) -> None:
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["", "MiB", "8 XB", "-1MiB", "1.5B", True])
def test_parse_size_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="size"):
        parse_size(text)


def test_format_size() -> None:
    assert [format_size(n) for n in (8 * MiB, 5 * TiB, 1536, 1000, 0)] == [
        "8 MiB",
        "5 TiB",
        "1536 bytes",
        "1000 bytes",
        "0 bytes",
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        (30, 30),
        ("30", 30.0),
        ("1.5", 1.5),
        ("90s", 90),
        ("6h", 21600),
        ("7d", 604800),
        ("1h30m", 5400),
        ("250ms", 0.25),
        ("1w", 604800),
        ("2m 5s", 125),
    ],
)
def test_parse_duration(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "h", "6 hours", "1h-2m", "inf", "nan", "-1", False])
def test_parse_duration_rejects(text: object) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("addr", "parsed"),
    [
        ("0.0.0.0:9000", ("0.0.0.0", 9000)),
        ("localhost:0", ("localhost", 0)),
        ("etcd-1.internal:2379", ("etcd-1.internal", 2379)),
        ("[::]:9001", ("::", 9001)),
        ("[fe80::1%eth0]:80", ("fe80::1%eth0", 80)),
        ("h:65535", ("h", 65535)),
    ],
)
def test_split_address(addr: str, parsed: tuple[str, int]) -> None:
    assert split_address(addr) == parsed


@pytest.mark.parametrize(
    "addr", [":9000", "host", "host:", "host:x", "host:65536", "::1:80", "[::1]", "[x]:1", "a b:1"]
)
def test_split_address_rejects(addr: str) -> None:
    with pytest.raises(ValueError, match="invalid address"):
        split_address(addr)
