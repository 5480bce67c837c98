"""The webhook's security helpers, without a web server."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import SecretStr

from router_core.config import ServerConfig
from router_core.errors import ConfigError
from router_core.security import (
    AccessLogFilter,
    AddressSet,
    SecretRedactor,
    SignatureVerifier,
    Unauthorized,
    WebhookSettings,
    bearer_token,
    client_address,
    in_networks,
    parse_allowlist,
    parse_networks,
    redact_path,
    route_for_token,
    secret_matches,
    sign,
    signature_header,
)


class Clock:
    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


PROXIES = parse_networks(["10.0.0.0/8", "::1"], "test")


@pytest.mark.parametrize(("peer", "xff", "expected"), [
    ("203.0.113.9", "52.89.214.238", "203.0.113.9"),  # untrusted peer: header ignored
    ("10.0.0.2", "52.89.214.238", "52.89.214.238"),
    ("10.0.0.2", "1.2.3.4, 52.89.214.238", "52.89.214.238"),  # left-most is the sender's claim
    ("10.0.0.2", "52.89.214.238, 10.0.0.7", "52.89.214.238"),  # chained trusted proxies
    ("10.0.0.2", None, "10.0.0.2"),
    ("10.0.0.2", "not-an-ip", None),
])
def test_client_address_trusts_forwarded_for_only_from_proxies(
    peer: str, xff: str | None, expected: str | None
) -> None:
    assert client_address(peer, xff, PROXIES) == expected
    assert client_address(peer, xff, AddressSet(PROXIES)) == expected


ADDRESSES = ["52.32.178.7", "::ffff:52.32.178.7", " 52.32.178.7 ", "52.32.178.8", "10.1.2.3",
             "::1", "::2", "garbage", "", "52.32.178.7.1"]


def test_an_address_set_answers_as_in_networks_every_time() -> None:
    for networks in (parse_allowlist("tradingview"), PROXIES, ()):
        assert networks is not None
        addresses = AddressSet(networks)
        for _ in range(2):  # the second time from what it remembered
            for text in ADDRESSES:
                assert (text in addresses) is in_networks(text, networks), (text, networks)
            assert None not in addresses and not in_networks(None, addresses)


def test_an_address_set_remembers_a_bounded_number_of_addresses(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("router_core.security.MAX_REMEMBERED_ADDRESSES", 3)
    addresses = AddressSet(PROXIES)
    for n in range(10):
        assert f"10.0.0.{n}" in addresses
        assert f"192.0.2.{n}" not in addresses
        assert len(addresses._known) <= 3


def test_tradingview_preset_and_ipv4_mapped_addresses() -> None:
    allow = parse_allowlist("tradingview")
    assert allow is not None and len(allow) == 4
    assert in_networks("52.32.178.7", allow)
    assert in_networks("::ffff:52.32.178.7", allow)
    assert not in_networks("52.32.178.8", allow)
    assert not in_networks(None, allow)
    assert not in_networks("garbage", allow)
    assert parse_allowlist(None) is None


def test_bad_network_in_config_names_the_key() -> None:
    with pytest.raises(ConfigError) as info:
        parse_allowlist(["300.1.1.1"])
    assert "server.ip_allowlist" in str(info.value)


def test_secret_matching() -> None:
    expected = [SecretStr("alpha"), SecretStr("beta")]
    assert secret_matches("beta", expected)
    assert not secret_matches("gamma", expected)
    assert not secret_matches(None, expected)
    assert route_for_token("t2", {"a": SecretStr("t1"), "b": SecretStr("t2")}) == "b"
    assert route_for_token("t3", {"a": SecretStr("t1")}) is None
    assert bearer_token("Bearer abc") == "abc"
    assert bearer_token("bearer  abc ") == "abc"
    assert bearer_token("Basic abc") is None
    assert bearer_token(None) is None


# -- HMAC ----------------------------------------------------------------------------------------


def test_signature_matches_the_documented_scheme() -> None:
    import hashlib
    import hmac

    body = b'{"ticker":"BTCUSD"}'
    expected = hmac.new(b"s3cret", b"1700000000." + body, hashlib.sha256).hexdigest()
    assert sign("s3cret", 1_700_000_000, body) == expected
    assert signature_header("s3cret", body, 1_700_000_000) == f"t=1700000000,v1={expected}"


def test_verifier_accepts_both_rotation_secrets_and_refuses_replays() -> None:
    clock = Clock()
    verifier = SignatureVerifier([SecretStr("old"), SecretStr("new")], clock=clock)
    body = b"{}"
    t = int(clock.now)
    verifier.verify(signature_header("old", body, t), body)
    verifier.verify(signature_header("new", body, t), body)
    with pytest.raises(Unauthorized, match="replay"):
        verifier.verify(signature_header("new", body, t), body)
    with pytest.raises(Unauthorized, match="does not match"):
        verifier.verify(signature_header("other", body, t + 1), body)


def test_verifier_accepts_any_of_several_v1_values() -> None:
    clock = Clock()
    verifier = SignatureVerifier([SecretStr("new")], clock=clock)
    t = int(clock.now)
    header = f"t={t},v1={'a' * 64},v1={sign('new', t, b'x')}"
    verifier.verify(header, b"x")


@pytest.mark.parametrize("offset", [-301, 301, -10_000])
def test_verifier_refuses_timestamps_outside_300_seconds(offset: int) -> None:
    clock = Clock()
    verifier = SignatureVerifier([SecretStr("k")], clock=clock)
    t = int(clock.now) + offset
    with pytest.raises(Unauthorized, match="window"):
        verifier.verify(signature_header("k", b"x", t), b"x")


def test_replay_cache_outlives_the_tolerance_then_forgets() -> None:
    clock = Clock()
    verifier = SignatureVerifier([SecretStr("k")], clock=clock, replay_ttl=600)
    t = int(clock.now)
    header = signature_header("k", b"x", t)
    verifier.verify(header, b"x")
    clock.now += 299  # still inside the timestamp window: the cache must still refuse it
    with pytest.raises(Unauthorized, match="replay"):
        verifier.verify(header, b"x")
    clock.now += 1000
    assert len(verifier._seen) == 1
    with pytest.raises(Unauthorized, match="window"):
        verifier.verify(header, b"x")
    verifier.verify(signature_header("k", b"x", int(clock.now)), b"x")
    assert len(verifier._seen) == 1  # the expired entry was dropped


def test_replay_cache_forgets_the_oldest_first_and_never_a_signature_still_in_the_window(
        ) -> None:
    clock = Clock()
    start = clock.now
    # tolerance 1000 s: each signature is remembered 2000 s
    verifier = SignatureVerifier([SecretStr("k")], clock=clock, tolerance=1000, replay_ttl=0)
    headers = []
    for step in (0, 500, 200, 900, 1200):  # the clock steps back once (500 -> 200)
        clock.now = start + step
        headers.append((step, signature_header("k", b"x", int(clock.now))))
        verifier.verify(headers[-1][1], b"x")
    clock.now = start + 1300
    for step, header in headers:
        with pytest.raises(Unauthorized, match="replay" if step >= 300 else "window"):
            verifier.verify(header, b"x")
    clock.now = start + 2600  # the first three are past their 2000 s
    verifier.verify(signature_header("k", b"x", int(clock.now)), b"x")
    assert len(verifier._seen) == 3
    clock.now = start + 3100  # the fourth (900 + 2000) too; the fifth is kept till 3200
    for step, header in headers[3:]:
        with pytest.raises(Unauthorized, match="window"):
            verifier.verify(header, b"x")
    verifier.verify(signature_header("k", b"x", int(clock.now)), b"x")
    assert len(verifier._seen) == 3


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=" + "0" * 64, "t=1", "t=1,v0=ab"])
def test_malformed_signature_headers_are_unauthorized(header: str) -> None:
    with pytest.raises(Unauthorized):
        SignatureVerifier([SecretStr("k")]).verify(header, b"x")


# -- settings ------------------------------------------------------------------------------------


def test_settings_read_secrets_from_the_environment() -> None:
    server = ServerConfig(passphrase_env="PASS", admin_token_env="ADMIN",
                          route_tokens_env={"momentum": "ROUTE_M"},
                          hmac_secrets_env=["H1", "H2"], ip_allowlist="tradingview")
    env = {"PASS": " pass-value ", "ADMIN": "admin-value", "ROUTE_M": "route-value",
           "H1": "h1-value", "H2": "h2-value"}
    settings = WebhookSettings.from_config(server, environ=env)
    assert settings.passphrase is not None
    assert settings.passphrase.get_secret_value() == "pass-value"
    assert settings.route_tokens["momentum"].get_secret_value() == "route-value"
    assert len(settings.hmac_secrets) == 2
    assert settings.authenticates
    assert "pass-value" not in repr(settings)
    assert "route-value" not in repr(settings)


def test_missing_secret_variable_is_named_without_any_value() -> None:
    server = ServerConfig(passphrase_env="ALERT_ROUTER_PASSPHRASE")
    with pytest.raises(ConfigError) as info:
        WebhookSettings.from_config(server, environ={})
    assert "ALERT_ROUTER_PASSPHRASE" in str(info.value)


def test_passphrase_file_is_relative_to_the_config(tmp_path: Path) -> None:
    (tmp_path / "secret.txt").write_text("from-a-file\n")
    server = ServerConfig(passphrase_file=Path("secret.txt"))
    settings = WebhookSettings.from_config(server, environ={}, base_dir=tmp_path)
    assert settings.passphrase is not None
    assert settings.passphrase.get_secret_value() == "from-a-file"
    with pytest.raises(ConfigError, match="cannot read"):
        WebhookSettings.from_config(server, environ={}, base_dir=tmp_path / "elsewhere")


def test_no_secret_configured_means_an_open_webhook() -> None:
    assert not WebhookSettings.from_config(ServerConfig(), environ={}).authenticates


# -- logs ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(("path", "expected"), [
    ("/webhook/abc123?x=1", "/webhook/[redacted]"),
    ("/webhook?passphrase=p", "/webhook"),
    ("/alerts/42", "/alerts/42"),
])
def test_paths_in_logs_lose_tokens_and_queries(path: str, expected: str) -> None:
    assert redact_path(path) == expected


def test_access_log_filter_and_secret_redactor() -> None:
    record = logging.LogRecord("uvicorn.access", logging.INFO, __file__, 1,
                               '%s - "%s %s HTTP/%s" %d',
                               ("1.2.3.4:5", "POST", "/webhook/tok?a=b", "1.1", 401), None)
    AccessLogFilter().filter(record)
    assert record.getMessage() == '1.2.3.4:5 - "POST /webhook/[redacted] HTTP/1.1" 401'

    secrets: list[str] = []
    redactor = SecretRedactor(secrets)
    secrets.append("hunter2-secret")
    leaky = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed with %s",
                              ("hunter2-secret",), None)
    redactor.filter(leaky)
    assert "hunter2-secret" not in leaky.getMessage()
    assert "[redacted]" in leaky.getMessage()
