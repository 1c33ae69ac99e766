# syntax=docker/dockerfile:1
# The image `astro dev start`, `astro deploy` and docker-compose.yml run: Astro Runtime 3.3-8 (Airflow 3.3.2,
# the version requirements.txt pins) on Python 3.12, plus what the Spark jobs need: Java 17 and Debian's
# PostgreSQL JDBC driver. Runtime 3.3 is built for Python 3.12-3.14 only; constraints.txt (resolved on 3.11)
# resolves to the same versions on 3.12.
#
# Python packages, and why they match the local ones. The base image's ONBUILD steps run right after FROM, in
# this order: COPY packages.txt and apt-get install what it lists, COPY requirements.txt and install it (with
# Astronomer's build of Airflow: 3.3.2+astro.N satisfies our ==3.3.2), COPY the whole project (less
# .dockerignore). Those top-level pins say nothing about their dependencies, so the RUN at the end installs
# requirements.txt again with constraints.txt, the frozen set the virtualenv and CI run, checks the result
# with `pip check`, and docker/check_pins.py fails the build if any pinned package, or any of their
# dependencies, differs from those two files.

# Java 17 from the Spark image docker-compose.yml runs, so the driver (here) and the executors (there) share
# one JVM build.
FROM apache/spark:4.2.0-scala2.13-java17-python3-ubuntu AS spark

FROM astrocrpublic.azurecr.io/runtime:3.3-8-python-3.12

USER root
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpostgresql-jdbc-java \
    && rm -rf /var/lib/apt/lists/*
COPY --from=spark /opt/java/openjdk /opt/java/openjdk
ENV JAVA_HOME=/opt/java/openjdk \
    PATH=/opt/java/openjdk/bin:${PATH} \
    SPARK_JDBC_JAR=/usr/share/java/postgresql.jar \
    AIRFLOW_VAR_SPARK_JDBC_JAR=/usr/share/java/postgresql.jar \
    PYTHONPATH=/usr/local/airflow
RUN python -m pip install --no-cache-dir --root-user-action=ignore -r requirements.txt -c constraints.txt \
    && python -m pip check \
    && python docker/check_pins.py requirements.txt constraints.txt \
    && java -version \
    && test -s "${SPARK_JDBC_JAR}" \
    && spark-submit --version
USER astro
