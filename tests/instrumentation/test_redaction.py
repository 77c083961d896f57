import pytest

from instrumentation.redaction import REDACTED, redact_query, redact_target, redact_url


@pytest.mark.parametrize(
    "name", ["token", "access_token", "password", "api_key", "apikey", "secret", "sig", "session"]
)
def test_secret_looking_parameters_are_redacted(name: str) -> None:
    assert redact_query(f"{name}=hunter2&page=2") == f"{name}={REDACTED}&page=2"


def test_ordinary_query_is_left_alone() -> None:
    assert redact_query("page=2&sort=name%20asc") == "page=2&sort=name%20asc"
    assert redact_query("") == ""


def test_target_and_url() -> None:
    assert redact_target("/login?password=x&next=/") == f"/login?password={REDACTED}&next=%2F"
    assert redact_target("/plain") == "/plain"
    assert redact_url("https://bob:pw@host:8443/a?token=t#f") == (
        f"https://{REDACTED}:{REDACTED}@host:8443/a?token={REDACTED}#f"
    )
