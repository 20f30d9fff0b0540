"""One mapping of database URLs to the driver wanka depends on, used by the platform and the data registry."""

from wanka.dburl import engine_url


def test_bare_postgresql_gets_the_psycopg3_driver() -> None:
    assert (
        engine_url("postgresql://u:p@127.0.0.1:5432/db")
        == "postgresql+psycopg://u:p@127.0.0.1:5432/db"
    )


def test_other_urls_pass_unchanged() -> None:
    for url in ("sqlite:///x.db", "postgresql+psycopg://h/db", "postgresql+psycopg2://h/db", ""):
        assert engine_url(url) == url


def test_platform_store_and_data_registry_use_the_one_mapping() -> None:
    import wanka.data.registry as registry
    import wanka.platform.store as store

    assert store.engine_url is engine_url
    assert registry.engine_url is engine_url
