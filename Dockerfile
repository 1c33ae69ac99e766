# Astro Runtime for Airflow 3.3 on Python 3.11 (`astro dev start` builds this), plus what the Spark jobs need:
# Java 17 for spark-submit and Debian's PostgreSQL JDBC driver. Python pins come from requirements.txt.
FROM astrocrypt.io/astronomer/runtime:3.3-2-python-3.11

USER root
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends openjdk-17-jre-headless libpostgresql-jdbc-java \
    && rm -rf /var/lib/apt/lists/*
ENV JAVA_HOME=/usr/lib/jvm/java-17-openjdk-amd64 \
    SPARK_JDBC_JAR=/usr/share/java/postgresql.jar
USER astro
