from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from core.settings import REPO_ROOT, Settings, load_settings, settings_env

# The documented environment: every name operators and scripts may set today.
DOCUMENTED = [
    "KB_DIR",
    "DATA_DIR",
    "EMBEDDING_MODEL",
    "ANN_THRESHOLD",
    "TORCH_THREADS",
    "QUERY_PRECISION",
    "MAX_QUERY_CHARS",
    "JUDGE_MODEL",
    "JUDGE_TOP",
    "DATABASE_URL",
    "SECRET_KEY",
    "SECRETS_DIR",
    "KB_SYNC_INTERVAL",
    "TRACKER_STORE_URL",
    "LOCK_STORE_URL",
    "RASA_PORT",
    "ACTION_PORT",
    "RASA_WORKERS",
    "PUBLIC_URL",
    "ARTICLE_PATH",
    "WEB_PORT",
    "DEMO",
    "SECURE_COOKIES",
    "CHAT_RATE_LIMIT",
    "VERIFY_RATE_LIMIT",
    "RATE_LIMIT_STORAGE_URL",
    "ALLOWED_ORIGINS",
    "TRUSTED_PROXIES",
    "RASA_TIMEOUT",
    "BRAND",
]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """An environment without any HELPDESK_ variable (CI or a developer may have some set)."""
    for name in list(os.environ):
        if name.startswith("HELPDESK_"):
            monkeypatch.delenv(name)
    return monkeypatch


def test_defaults_with_an_empty_environment(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    var = REPO_ROOT / "var"
    assert dataclasses.asdict(settings) == {
        "repo_root": REPO_ROOT,
        "kb_dir": REPO_ROOT / "kb",
        "data_dir": var,
        "embedding_model": "",
        "ann_threshold": 20000,
        "torch_threads": 1,
        "query_precision": "auto",
        "max_query_chars": 2000,
        "judge_model": "",
        "judge_top": 3,
        "database_url": f"sqlite:///{var}/helpdesk.db",
        "secret_key": "",
        "secrets_dir": "",
        "tracker_store_url": f"sqlite:///{var}/rasa-tracker.db",
        "lock_store_url": "",
        "rasa_port": 5005,
        "action_port": 5055,
        "kb_sync_interval": 1.0,
        "rasa_workers": 1,
        "public_url": "http://127.0.0.1:8000",
        "article_path": "/hilfe/{id}",
        "web_port": 8000,
        "demo": False,
        "secure_cookies": False,
        "chat_rate_limit": "30/minute",
        "verify_rate_limit": "10/minute",
        "rate_limit_storage_url": "memory://",
        "allowed_origins": ("http://127.0.0.1:8000",),
        "trusted_proxies": 0,
        "brand": "Beispiel Hosting",
        "rasa_timeout": 10.0,
    }
    assert type(settings.rasa_timeout) is float


def test_env_names_are_exactly_the_documented_ones(env: pytest.MonkeyPatch) -> None:
    names = settings_env(load_settings())
    assert set(names) == {f"HELPDESK_{name}" for name in DOCUMENTED}
    assert len(DOCUMENTED) == len(set(DOCUMENTED))


def test_every_field_but_repo_root_is_a_setting(env: pytest.MonkeyPatch) -> None:
    fields = {f.name for f in dataclasses.fields(Settings)}
    assert {name.lower() for name in DOCUMENTED} == fields - {"repo_root"}


@pytest.mark.parametrize(
    ("name", "raw", "field", "value"),
    [
        ("ANN_THRESHOLD", "500", "ann_threshold", 500),
        ("TORCH_THREADS", " 4 ", "torch_threads", 4),
        ("WEB_PORT", "9001", "web_port", 9001),
        ("RASA_TIMEOUT", "2.5", "rasa_timeout", 2.5),
        ("RASA_TIMEOUT", "3", "rasa_timeout", 3.0),
        ("KB_DIR", "/srv/kb", "kb_dir", Path("/srv/kb")),
        ("DATA_DIR", "relative/var", "data_dir", Path("relative/var")),
        ("BRAND", "Muster AG", "brand", "Muster AG"),
        ("CHAT_RATE_LIMIT", "5/second", "chat_rate_limit", "5/second"),
        (
            "DATABASE_URL",
            "postgresql://u@db/helpdesk",
            "database_url",
            "postgresql://u@db/helpdesk",
        ),
        ("QUERY_PRECISION", "  BFloat16 ", "query_precision", "bfloat16"),
        ("JUDGE_MODEL", "  /models/judge \n", "judge_model", "/models/judge"),
        ("PUBLIC_URL", "https://hilfe.example.de/", "public_url", "https://hilfe.example.de"),
        ("PUBLIC_URL", "http://a.example//", "public_url", "http://a.example"),
        ("TRUSTED_PROXIES", "2", "trusted_proxies", 2),
        (
            "RATE_LIMIT_STORAGE_URL",
            " redis://127.0.0.1:6379/0 ",
            "rate_limit_storage_url",
            "redis://127.0.0.1:6379/0",
        ),
        (
            "ALLOWED_ORIGINS",
            "https://shop.example.de",
            "allowed_origins",
            ("https://shop.example.de",),
        ),
    ],
)
def test_a_variable_is_parsed(
    env: pytest.MonkeyPatch, name: str, raw: str, field: str, value: object
) -> None:
    env.setenv(f"HELPDESK_{name}", raw)
    loaded = getattr(load_settings(), field)
    assert loaded == value
    assert type(loaded) is type(value)


@pytest.mark.parametrize("raw", ["1", "true", "TRUE", "Yes", "on", " On "])
def test_true_flags(env: pytest.MonkeyPatch, raw: str) -> None:
    env.setenv("HELPDESK_DEMO", raw)
    assert load_settings().demo is True


@pytest.mark.parametrize("raw", ["0", "false", "no", "off", "", "2", "enabled"])
def test_anything_else_is_false(env: pytest.MonkeyPatch, raw: str) -> None:
    env.setenv("HELPDESK_DEMO", raw)
    assert load_settings().demo is False


def test_database_urls_default_into_the_data_dir(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("HELPDESK_DATA_DIR", str(tmp_path))
    settings = load_settings()
    assert settings.database_url == f"sqlite:///{tmp_path}/helpdesk.db"
    assert settings.tracker_store_url == f"sqlite:///{tmp_path}/rasa-tracker.db"
    assert settings.index_dir == tmp_path / "index"


def test_an_explicit_database_url_wins(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    env.setenv("HELPDESK_DATA_DIR", str(tmp_path))
    env.setenv("HELPDESK_TRACKER_STORE_URL", "postgresql://rasa@db/rasa")
    settings = load_settings()
    assert settings.tracker_store_url == "postgresql://rasa@db/rasa"
    assert settings.database_url == f"sqlite:///{tmp_path}/helpdesk.db"


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [("https://hilfe.example.de/", True), ("http://hilfe.example.de", False)],
)
def test_secure_cookies_follow_the_public_url(
    env: pytest.MonkeyPatch, public_url: str, secure: bool
) -> None:
    env.setenv("HELPDESK_PUBLIC_URL", public_url)
    assert load_settings().secure_cookies is secure


def test_secure_cookies_can_be_switched_off_behind_https(env: pytest.MonkeyPatch) -> None:
    env.setenv("HELPDESK_PUBLIC_URL", "https://hilfe.example.de")
    env.setenv("HELPDESK_SECURE_COOKIES", "off")
    assert load_settings().secure_cookies is False


def test_article_url_has_a_single_slash(env: pytest.MonkeyPatch) -> None:
    env.setenv("HELPDESK_PUBLIC_URL", "https://hilfe.example.de/")
    assert load_settings().article_url(7) == "https://hilfe.example.de/hilfe/7"


def test_loopback_addresses(env: pytest.MonkeyPatch) -> None:
    env.setenv("HELPDESK_ACTION_PORT", "6001")
    env.setenv("HELPDESK_RASA_PORT", "6002")
    env.setenv("HELPDESK_WEB_PORT", "6003")
    settings = load_settings()
    assert settings.action_server_url == "http://127.0.0.1:6001"
    assert settings.rasa_url == "http://127.0.0.1:6002"
    assert settings.web_url == "http://127.0.0.1:6003"


def test_settings_env_writes_flags_as_digits(env: pytest.MonkeyPatch) -> None:
    settings = dataclasses.replace(load_settings(), demo=True, secure_cookies=False)
    written = settings_env(settings)
    assert written["HELPDESK_DEMO"] == "1"
    assert written["HELPDESK_SECURE_COOKIES"] == "0"
    assert all(isinstance(value, str) for value in written.values())


@pytest.mark.parametrize("everything_changed", [False, True], ids=["defaults", "changed"])
def test_settings_env_round_trip(
    env: pytest.MonkeyPatch, tmp_path: Path, everything_changed: bool
) -> None:
    original = load_settings()
    if everything_changed:
        # Values unlike every default, so that a setting the round trip drops shows up.
        original = dataclasses.replace(
            original,
            kb_dir=tmp_path / "kb",
            data_dir=tmp_path / "var",
            embedding_model="/models/e5",
            ann_threshold=7,
            torch_threads=3,
            query_precision="float32",
            max_query_chars=99,
            judge_model="/models/judge",
            judge_top=5,
            database_url="postgresql://u@db/helpdesk",
            secret_key="geheim",
            tracker_store_url="sqlite:///t.db",
            lock_store_url="redis://localhost:6379/1",
            rasa_port=1,
            action_port=2,
            rasa_workers=4,
            public_url="https://hilfe.example.de",
            article_path="/artikel/{id}",
            web_port=3,
            demo=True,
            secure_cookies=False,
            chat_rate_limit="1/second",
            verify_rate_limit="2/hour",
            rate_limit_storage_url="redis://127.0.0.1:6379/2",
            allowed_origins=("https://shop.example.de", "http://127.0.0.1:3000"),
            trusted_proxies=2,
            brand="Muster AG",
            rasa_timeout=0.25,
        )
    for name, value in settings_env(original).items():
        env.setenv(name, value)
    assert load_settings() == original


# --- allowed origins (browsers on other sites) --------------------------------------------


@pytest.mark.parametrize(
    ("public_url", "origins"),
    [
        ("https://hilfe.example.de/", ("https://hilfe.example.de",)),
        ("https://hilfe.example.de/helpdesk/", ("https://hilfe.example.de",)),
        ("https://Hilfe.Example.DE:443", ("https://hilfe.example.de",)),
        ("http://127.0.0.1:8000", ("http://127.0.0.1:8000",)),
        ("http://[::1]:8000/", ("http://[::1]:8000",)),
    ],
)
def test_allowed_origins_default_to_the_public_urls_own(
    env: pytest.MonkeyPatch, public_url: str, origins: tuple[str, ...]
) -> None:
    env.setenv("HELPDESK_PUBLIC_URL", public_url)
    assert load_settings().allowed_origins == origins


@pytest.mark.parametrize(
    ("raw", "origins"),
    [
        ("https://a.example,https://b.example", ("https://a.example", "https://b.example")),
        ("https://a.example https://b.example", ("https://a.example", "https://b.example")),
        (" https://a.example ,\n https://b.example, ", ("https://a.example", "https://b.example")),
        # As browsers write Origin: lower case, no default port, no trailing slash.
        ("HTTPS://Shop.Example.DE:443/", ("https://shop.example.de",)),
        ("http://shop.example.de:80 http://shop.example.de", ("http://shop.example.de",)),
        ("http://localhost:3000", ("http://localhost:3000",)),
        ("*", ("*",)),
        ("https://a.example, *", ("https://a.example", "*")),
        # Set but empty: no origin at all, not even the public URL's.
        ("", ()),
        (" , ", ()),
    ],
)
def test_allowed_origins_are_parsed(
    env: pytest.MonkeyPatch, raw: str, origins: tuple[str, ...]
) -> None:
    env.setenv("HELPDESK_PUBLIC_URL", "https://hilfe.example.de")
    env.setenv("HELPDESK_ALLOWED_ORIGINS", raw)
    assert load_settings().allowed_origins == origins


@pytest.mark.parametrize(
    "raw",
    [
        "shop.example.de",  # no scheme
        "https://shop.example.de/widget",  # an origin has no path
        "https://shop.example.de?x=1",
        "ftp://shop.example.de",
        "https://user@shop.example.de",
        "https://shop.example.de:port",
        "https://a.example, nonsense",
    ],
)
def test_a_malformed_origin_names_the_variable(env: pytest.MonkeyPatch, raw: str) -> None:
    env.setenv("HELPDESK_ALLOWED_ORIGINS", raw)
    with pytest.raises(ValueError, match="HELPDESK_ALLOWED_ORIGINS"):
        load_settings()


def test_a_public_url_without_an_origin_asks_for_allowed_origins(
    env: pytest.MonkeyPatch,
) -> None:
    env.setenv("HELPDESK_PUBLIC_URL", "hilfe.example.de")
    with pytest.raises(ValueError, match=r"HELPDESK_ALLOWED_ORIGINS is not set.*PUBLIC_URL"):
        load_settings()
    env.setenv("HELPDESK_ALLOWED_ORIGINS", "https://hilfe.example.de")
    assert load_settings().allowed_origins == ("https://hilfe.example.de",)


def test_allowed_origins_go_to_child_processes_as_one_list(env: pytest.MonkeyPatch) -> None:
    settings = dataclasses.replace(
        load_settings(), allowed_origins=("https://a.example", "http://b.example:8080")
    )
    assert settings_env(settings)["HELPDESK_ALLOWED_ORIGINS"] == (
        "https://a.example,http://b.example:8080"
    )
    none = dataclasses.replace(settings, allowed_origins=())
    env.setenv("HELPDESK_ALLOWED_ORIGINS", settings_env(none)["HELPDESK_ALLOWED_ORIGINS"])
    assert load_settings().allowed_origins == ()


def test_a_negative_proxy_count_names_the_variable(env: pytest.MonkeyPatch) -> None:
    env.setenv("HELPDESK_TRUSTED_PROXIES", "-1")
    with pytest.raises(ValueError, match="HELPDESK_TRUSTED_PROXIES"):
        load_settings()


@pytest.mark.parametrize(
    ("name", "raw"),
    [
        ("WEB_PORT", "abc"),
        ("JUDGE_TOP", "3.5"),
        ("RASA_PORT", ""),
        ("RASA_TIMEOUT", "soon"),
        ("TRUSTED_PROXIES", "one"),
    ],
)
def test_a_malformed_number_names_the_variable(
    env: pytest.MonkeyPatch, name: str, raw: str
) -> None:
    env.setenv(f"HELPDESK_{name}", raw)
    with pytest.raises(ValueError) as error:
        load_settings()
    assert f"HELPDESK_{name}" in str(error.value)
    assert repr(raw) in str(error.value)


def test_settings_stay_frozen(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    with pytest.raises(dataclasses.FrozenInstanceError):
        settings.web_port = 1  # type: ignore[misc]
