"""Secrets: environment first, then the keyring; never in settings, logs, str or repr."""

from __future__ import annotations

import logging

from engine.settings import (
    delete_secret,
    get_secret,
    install_redaction,
    load_settings,
    secret_env_name,
    set_secret,
)
from engine.settings.secrets import SERVICE, RedactingFilter

SECRET = "sk-live-0123456789abcdef"


def test_env_name():
    assert secret_env_name("binance", "api_key") == "TT_SECRET_BINANCE_API_KEY"
    assert secret_env_name("kiwoom", "cert-password") == "TT_SECRET_KIWOOM_CERT_PASSWORD"


def test_environment_first_then_keyring(memory_keyring):
    assert get_secret("binance", "api_key", env={}) is None
    set_secret("binance", "api_key", "from-keyring-1")
    assert memory_keyring.store == {(SERVICE, "binance:api_key"): "from-keyring-1"}
    assert get_secret("binance", "api_key", env={}) == "from-keyring-1"
    env = {"TT_SECRET_BINANCE_API_KEY": "from-env-22"}
    assert get_secret("binance", "api_key", env=env) == "from-env-22"
    assert delete_secret("binance", "api_key") is True
    assert delete_secret("binance", "api_key") is False
    assert get_secret("binance", "api_key", env={}) is None


def test_no_keyring_falls_back_to_none_without_logging_anything_secret(caplog):
    import keyring
    from keyring.backends.fail import Keyring as FailKeyring

    previous = keyring.get_keyring()
    keyring.set_keyring(FailKeyring())
    try:
        with caplog.at_level(logging.WARNING):
            assert get_secret("binance", "api_secret", env={}) is None
    finally:
        keyring.set_keyring(previous)
    assert "TT_SECRET_BINANCE_API_SECRET" in caplog.text


def test_loaded_secrets_never_reach_captured_logs(memory_keyring, caplog):
    install_redaction()
    set_secret("binance", "api_secret", SECRET)
    env_secret = "env-token-ZYXWV98765"
    assert get_secret("kiwoom", "password", env={"TT_SECRET_KIWOOM_PASSWORD": env_secret})
    log = logging.getLogger("brokers.binance.client")  # a child logger, propagating to root
    with caplog.at_level(logging.DEBUG):
        log.info("signing with %s", SECRET)
        log.warning(f"login {env_secret} failed")
        log.debug("headers %r", {"X-MBX-APIKEY": SECRET, "n": 1})
        try:
            raise RuntimeError(f"bad key {SECRET}")
        except RuntimeError:
            log.exception("request failed")
    assert len(caplog.records) == 4
    assert SECRET not in caplog.text and env_secret not in caplog.text
    assert "signing with ***" in caplog.text and "login *** failed" in caplog.text
    assert "'X-MBX-APIKEY': '***'" in caplog.text
    assert "RuntimeError: bad key ***" in caplog.text
    for record in caplog.records:
        assert SECRET not in record.getMessage() and SECRET not in str(record.args)


def test_filter_masks_records_made_before_it_was_installed():
    # A record created elsewhere (another factory, a queue) is still cleaned by the filter.
    from engine.settings.secrets import remember_secret

    remember_secret(SECRET)
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "a=%s b=%d", (SECRET, 3), None)
    assert RedactingFilter().filter(record) is True
    assert record.getMessage() == "a=*** b=3"


def test_handlers_get_the_filter_too():
    logger = logging.getLogger("tt.test.redaction")
    handler = logging.NullHandler()
    logger.addHandler(handler)
    try:
        f = install_redaction(logger)
        assert f in logger.filters and f in handler.filters
        assert install_redaction(logger) is f and logger.filters.count(f) == 1
    finally:
        logger.removeHandler(handler)
        logger.removeFilter(f)


def test_settings_never_hold_or_show_secrets(memory_keyring):
    env = {"TT_SECRET_BINANCE_API_KEY": SECRET, "TT_GUI__THEME": "light"}
    s = load_settings(env=env)  # TT_SECRET_ variables are not settings
    assert get_secret("binance", "api_key", env=env) == SECRET
    assert SECRET not in str(s) and SECRET not in repr(s)
    assert all(SECRET not in str(v) for _, v in s.items())
    assert SECRET not in repr(s.brokers.binance)
