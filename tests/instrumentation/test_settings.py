from pathlib import Path

import pytest

from instrumentation.settings import ExporterKind, read_settings


def test_defaults_are_parent_based_and_export_nothing() -> None:
    settings = read_settings({}, default_service_name="shop")
    assert settings.service_name == "shop"
    assert settings.sampler.name == "parentbased_always_on"
    assert settings.exporter.kind is ExporterKind.NONE
    assert settings.warnings == ()
    assert settings.resource["deployment.environment"] == "local"
    assert settings.resource["service.instance.id"]


def test_service_name_precedence() -> None:
    env = {"OTEL_SERVICE_NAME": "from-env", "OTEL_RESOURCE_ATTRIBUTES": "service.name=attr"}
    assert read_settings(env, service_name="arg").service_name == "arg"
    assert read_settings(env).service_name == "from-env"
    assert read_settings({"OTEL_RESOURCE_ATTRIBUTES": "service.name=attr"}).service_name == "attr"


def test_resource_attributes_are_parsed_and_decoded() -> None:
    env = {"OTEL_RESOURCE_ATTRIBUTES": "service.version=1.2,deployment.environment=prod,team=a%2Cb"}
    resource = read_settings(env).resource
    assert resource["service.version"] == "1.2"
    assert resource["deployment.environment"] == "prod"
    assert resource["team"] == "a,b"


def test_malformed_resource_attribute_is_a_warning_not_an_error() -> None:
    settings = read_settings({"OTEL_RESOURCE_ATTRIBUTES": "novalue,ok=1"})
    assert settings.resource["ok"] == "1"
    assert any("'novalue'" in w for w in settings.warnings)


@pytest.mark.parametrize(
    ("sampler", "arg", "name", "ratio"),
    [
        ("always_off", "", "always_off", 1.0),
        ("traceidratio", "0.25", "traceidratio", 0.25),
        ("parentbased_traceidratio", "0.1", "parentbased_traceidratio", 0.1),
        ("PARENTBASED_ALWAYS_ON", "", "parentbased_always_on", 1.0),
    ],
)
def test_sampler_from_env(sampler: str, arg: str, name: str, ratio: float) -> None:
    env = {"OTEL_TRACES_SAMPLER": sampler, "OTEL_TRACES_SAMPLER_ARG": arg}
    choice = read_settings(env).sampler
    assert (choice.name, choice.ratio) == (name, ratio)


@pytest.mark.parametrize(
    ("env", "fragment"),
    [
        ({"OTEL_TRACES_SAMPLER": "bogus"}, "OTEL_TRACES_SAMPLER='bogus'"),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "lots"}, "'lots'"),
        ({"OTEL_TRACES_SAMPLER": "traceidratio", "OTEL_TRACES_SAMPLER_ARG": "1.5"}, "'1.5'"),
    ],
)
def test_bad_sampler_values_fall_back_with_a_warning(env: dict[str, str], fragment: str) -> None:
    settings = read_settings(env)
    assert settings.sampler.ratio == 1.0
    assert any(fragment in w for w in settings.warnings), settings.warnings


def test_sampling_ratio_argument_wins() -> None:
    choice = read_settings({"OTEL_TRACES_SAMPLER": "always_off"}, sampling_ratio=0.1).sampler
    assert (choice.name, choice.ratio) == ("parentbased_traceidratio", 0.1)


def test_otlp_endpoint_selects_otlp_http() -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    exporter = read_settings(env).exporter
    assert exporter.kind is ExporterKind.OTLP_HTTP
    assert exporter.endpoint == "http://127.0.0.1:4318"


def test_traces_dir_selects_json_files(tmp_path: Path) -> None:
    exporter = read_settings({"GAMEDAY_TRACES_DIR": str(tmp_path)}).exporter
    assert exporter.kind is ExporterKind.JSON_FILE
    assert exporter.directory == tmp_path


def test_exporter_none_and_sdk_disabled_win(tmp_path: Path) -> None:
    base = {"GAMEDAY_TRACES_DIR": str(tmp_path), "OTEL_EXPORTER_OTLP_ENDPOINT": "http://x:4318"}
    assert (
        read_settings({**base, "OTEL_TRACES_EXPORTER": "none"}).exporter.kind is ExporterKind.NONE
    )
    disabled = read_settings({**base, "OTEL_SDK_DISABLED": "true"})
    assert disabled.exporter.kind is ExporterKind.NONE
    assert not disabled.tracing_enabled


def test_unknown_exporter_and_grpc_protocol_are_warnings() -> None:
    settings = read_settings(
        {
            "OTEL_TRACES_EXPORTER": "zipkin",
            "OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4317",
            "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc",
        }
    )
    assert settings.exporter.kind is ExporterKind.OTLP_HTTP
    assert any("zipkin" in w for w in settings.warnings)
    assert any("grpc" in w for w in settings.warnings)


@pytest.mark.parametrize(
    ("value", "separate", "warned"),
    [(None, True, False), ("false", False, False), ("1", True, False), ("sometimes", True, True)],
)
def test_export_runs_in_its_own_process_unless_told_otherwise(
    value: str | None, separate: bool, warned: bool
) -> None:
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
    if value is not None:
        env["GAMEDAY_EXPORTER_PROCESS"] = value
    settings = read_settings(env)
    assert settings.exporter.separate_process is separate
    assert any("GAMEDAY_EXPORTER_PROCESS='sometimes'" in w for w in settings.warnings) is warned
