# syntax=docker/dockerfile:1
# The warm Spark runtime of the minute path: Spark's own Spark Connect server (in the Spark 4 distribution) with
# the PostgreSQL JDBC driver the analytics application reads and writes through. The same Spark release as the
# standalone cluster and the pyspark client (requirements.txt). docker-compose.yml and docker-compose.override.yml
# run it as the service `spark-connect`; the connection spark_connect_default points at it.
FROM apache/spark:4.2.0-scala2.13-java17-python3-ubuntu
USER root
RUN apt-get update \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends libpostgresql-jdbc-java \
    && rm -rf /var/lib/apt/lists/* \
    && test -s /usr/share/java/postgresql.jar
USER spark
EXPOSE 15002
# local[2]: a minute's work is small; in its own JVM it never waits for the standalone cluster's cores, which the
# full rebuilds use. Sessions a client left behind are dropped after 10 idle minutes.
CMD ["/opt/spark/bin/spark-submit", \
     "--class", "org.apache.spark.sql.connect.service.SparkConnectServer", \
     "--name", "Spark Connect server (inventory analytics)", \
     "--master", "local[2]", "--driver-memory", "2g", \
     "--jars", "/usr/share/java/postgresql.jar", \
     "--conf", "spark.connect.grpc.binding.port=15002", \
     "--conf", "spark.sql.session.timeZone=UTC", \
     "--conf", "spark.ui.showConsoleProgress=false", \
     "--conf", "spark.connect.session.manager.defaultSessionTimeout=10m", \
     "spark-internal"]
