"""The warehouse connection turned into what each consumer needs, and a misconfigured one refused naming the field."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from include.inventory.spark import driver_env
from include.inventory.warehouse import Warehouse, WarehouseConfigError

PASSWORD = "p@ss:w/rd%20?"  # every character a URI or a JDBC URL would misread
URI = "postgresql://loader:p%40ss%3Aw%2Frd%2520%3F@db.example.com:6543/inventory?sslmode=require"
ENV = "AIRFLOW_CONN_WAREHOUSE_DB"
WHERE = "in Admin > Connections or AIRFLOW_CONN_WAREHOUSE_DB"


def test_a_uri_becomes_psycopg2_settings_a_libpq_uri_and_jdbc_settings():
    w = Warehouse.from_uri(URI)
    assert w.connect_kwargs() == {
        "host": "db.example.com",
        "port": 6543,
        "dbname": "inventory",
        "user": "loader",
        "password": PASSWORD,
        "sslmode": "require",
        "connect_timeout": 10,
        "application_name": "inventory",
    }
    assert w.connect_kwargs("inventory-portal")["application_name"] == "inventory-portal"
    assert w.uri == URI  # round trip: the same URI, the password percent-encoded
    assert Warehouse.from_uri(w.uri) == w
    assert w.jdbc_url == "jdbc:postgresql://db.example.com:6543/inventory?sslmode=require"
    assert w.jdbc_env() == {
        "WAREHOUSE_JDBC_URL": "jdbc:postgresql://db.example.com:6543/inventory?sslmode=require",
        "WAREHOUSE_DB_USER": "loader",
        "WAREHOUSE_DB_PASSWORD": PASSWORD,
    }
    assert w.sqlalchemy_url == "postgresql+psycopg2://" + URI.split("://", 1)[1]


def test_the_password_is_only_in_what_is_handed_over_in_process():
    w = Warehouse.from_uri(URI)
    for shown in (repr(w), str(w), w.jdbc_url):
        assert PASSWORD not in shown and "p%40ss" not in shown
    assert str(w) == "postgresql://loader@db.example.com:6543/inventory"


@pytest.mark.parametrize(
    "uri",
    [
        "postgres://loader@db.example.com/inventory",
        "postgresql+psycopg2://loader@db.example.com/inventory",
        "postgresql://loader@db.example.com:5432/inventory?cursor=dictcursor",  # not libpq's: ignored
    ],
)
def test_airflow_spellings_of_the_same_connection(uri):
    w = Warehouse.from_uri(uri)
    assert (w.host, w.port, w.dbname, w.user, w.password, dict(w.options)) == (
        "db.example.com",
        5432,
        "inventory",
        "loader",
        "",
        {},
    )
    assert "password" not in w.connect_kwargs()
    assert w.jdbc_url == "jdbc:postgresql://db.example.com:5432/inventory"


def test_airflow_json_connection_and_the_environment():
    value = json.dumps(
        {
            "conn_type": "postgres",
            "host": "pg",
            "port": 5433,
            "schema": "inventory",
            "login": "u",
            "password": "secret",
            "extra": {"sslmode": "verify-full", "cursor": "x"},
        }
    )
    w = Warehouse.from_env({ENV: value})
    assert (w.host, w.port, w.dbname, w.user, w.password, dict(w.options)) == (
        "pg",
        5433,
        "inventory",
        "u",
        "secret",
        {"sslmode": "verify-full"},
    )
    assert Warehouse.from_env({}).uri == "postgresql://inventory@127.0.0.1:55432/inventory"  # the local cluster
    assert Warehouse.from_env({"LOCAL_PG_PORT": "55501"}).port == 55501  # on the port scripts/env.sh would use


def test_another_database_on_the_same_server():
    w = Warehouse.from_uri(URI).with_database("postgres")
    assert (w.host, w.port, w.user, w.password, w.dbname) == ("db.example.com", 6543, "loader", PASSWORD, "postgres")


def test_an_ipv6_host_and_a_unix_socket_directory():
    assert (
        Warehouse.from_uri("postgresql://u@[::1]:5432/inventory").jdbc_url == "jdbc:postgresql://[::1]:5432/inventory"
    )
    socket = Warehouse.from_uri("postgresql://u@%2Fvar%2Frun%2Fpostgresql/inventory")
    assert socket.connect_kwargs()["host"] == "/var/run/postgresql"
    assert Warehouse.from_uri(socket.uri) == socket


def test_the_spark_properties_carry_the_credentials_under_the_names_the_job_reads():
    from spark_jobs import jobio

    props = Warehouse.from_uri(URI).jdbc_properties()
    assert props == {
        jobio.URL_PROPERTY: "jdbc:postgresql://db.example.com:6543/inventory?sslmode=require",
        jobio.USER_PROPERTY: "loader",
        jobio.PASSWORD_PROPERTY: PASSWORD,
    }
    assert jobio.Warehouse.from_conf(props) == jobio.Warehouse(*props.values())


def test_a_password_spark_would_trim_is_refused_naming_the_field():
    with pytest.raises(WarehouseConfigError, match="connection warehouse_db's Password begins or ends with whitespace"):
        replace(Warehouse.from_uri(URI), password=" secret").jdbc_properties()


def test_the_spark_driver_environment_carries_the_credentials():
    env = driver_env(Warehouse.from_uri(URI))
    assert env["WAREHOUSE_JDBC_URL"] == "jdbc:postgresql://db.example.com:6543/inventory?sslmode=require"
    assert env["WAREHOUSE_DB_PASSWORD"] == PASSWORD
    assert PASSWORD not in env["WAREHOUSE_JDBC_URL"]


# ------------------------------------------------------------------------------------------------ misconfigured


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("postgresql:///inventory", f"connection warehouse_db has no host: set Host {WHERE}"),
        ("postgresql://u:pw@db.example.com:5432", "connection warehouse_db has no database (the schema field): "),
        ("postgresql://u:pw@db.example.com:5432/", "has no database (the schema field): set Schema " + WHERE),
        (json.dumps({"conn_type": "postgres", "schema": "inventory"}), f"has no host: set Host {WHERE}"),
        (
            json.dumps({"conn_type": "postgres", "host": "pg"}),
            f"has no database (the schema field): set Schema {WHERE}",
        ),
        ("mysql://u@db.example.com/inventory", "is not a PostgreSQL URI (scheme 'mysql'"),
        ("postgresql://u@db.example.com:99999/inventory", "has an invalid port"),
        ("{not json", "is not valid JSON"),
    ],
)
def test_a_misconfigured_connection_fails_naming_the_field(value, message):
    with pytest.raises(WarehouseConfigError) as failed:
        Warehouse.from_env({ENV: value})
    assert message in str(failed.value)
    assert "pw" not in str(failed.value)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            json.dumps({"conn_type": "postgres", "schema": "inventory", "login": "u"}),
            f"connection warehouse_db has no host: set Host {WHERE}",
        ),
        (
            json.dumps({"conn_type": "postgres", "host": "pg", "login": "u"}),
            f"connection warehouse_db has no database (the schema field): set Schema {WHERE}",
        ),
        (
            json.dumps({"conn_type": "http", "host": "pg", "schema": "inventory"}),
            "connection warehouse_db has type 'http': set Connection Type to Postgres",
        ),
    ],
)
def test_a_misconfigured_airflow_connection_fails_naming_the_field(monkeypatch, value, message):
    """Inside Airflow: the same checks on the Connection Airflow resolves (here from its environment variable)."""
    monkeypatch.setenv(ENV, value)
    with pytest.raises(WarehouseConfigError) as failed:
        Warehouse.from_airflow()
    assert message in str(failed.value)


def test_an_airflow_connection_becomes_the_same_settings(monkeypatch):
    monkeypatch.setenv(ENV, URI)
    w = Warehouse.from_airflow()
    assert w == replace(Warehouse.from_uri(URI), application_name="inventory-airflow")
    assert w.connect_kwargs()["password"] == PASSWORD
    assert w.connect_kwargs()["application_name"] == "inventory-airflow"
