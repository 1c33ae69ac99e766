"""Shared I/O for the Spark applications: JDBC reads of the raw layer and writes to staging.

Credentials come from the driver's SparkConf: the Airflow task writes spark.inventory.warehouse.url
(jdbc:postgresql://host:port/db, no password in it), .user and .password into a properties file only the job's
user can read, passed as `--properties-file` (include/inventory/spark.py), never on the command line, which Airflow
logs and every process list shows. Without them (a spark-submit run by hand) they come from the environment:
WAREHOUSE_JDBC_URL, WAREHOUSE_DB_USER, WAREHOUSE_DB_PASSWORD. Spark jobs never import Airflow or include/.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

MANIFEST_TABLE = "staging.publish_manifest"
# The same names as include/inventory/warehouse.py's JDBC_*_PROPERTY (Spark's UI and event log redact the password
# one: it matches spark.redaction.regex).
URL_PROPERTY = "spark.inventory.warehouse.url"
USER_PROPERTY = "spark.inventory.warehouse.user"
PASSWORD_PROPERTY = "spark.inventory.warehouse.password"


@dataclass(frozen=True)
class Warehouse:
    url: str
    user: str
    password: str

    @classmethod
    def from_conf(cls, conf) -> Warehouse:
        """The properties the Airflow task wrote (`conf`: a SparkConf), else the WAREHOUSE_* environment."""
        url = conf.get(URL_PROPERTY)
        if url:
            return cls(url, conf.get(USER_PROPERTY, ""), conf.get(PASSWORD_PROPERTY, ""))
        return cls.from_env()

    @classmethod
    def from_spark(cls, spark: SparkSession) -> Warehouse:
        """`from_conf` of the running driver's SparkConf."""
        return cls.from_conf(spark.sparkContext.getConf())

    @classmethod
    def from_env(cls) -> Warehouse:
        url = os.environ.get("WAREHOUSE_JDBC_URL")
        if not url:
            raise SystemExit(
                f"Neither {URL_PROPERTY} (Spark conf) nor WAREHOUSE_JDBC_URL is set: run this job through the "
                "build_inventory_analytics DAG, or export WAREHOUSE_JDBC_URL, WAREHOUSE_DB_USER and "
                "WAREHOUSE_DB_PASSWORD."
            )
        return cls(url, os.environ.get("WAREHOUSE_DB_USER", "postgres"), os.environ.get("WAREHOUSE_DB_PASSWORD", ""))

    def options(self) -> dict[str, str]:
        return {"url": self.url, "user": self.user, "password": self.password, "driver": "org.postgresql.Driver"}


def conform(df: DataFrame, schema: StructType) -> DataFrame:
    """Exactly the named schema's columns and types, whatever JDBC inferred."""
    return df.select(*[F.col(f.name).cast(f.dataType).alias(f.name) for f in schema.fields])


def read_query(spark: SparkSession, db: Warehouse, query: str, schema: StructType) -> DataFrame:
    reader = spark.read.format("jdbc").options(**db.options()).option("query", query).option("fetchsize", "20000")
    return conform(reader.load(), schema)


def read_partitioned(
    spark: SparkSession,
    db: Warehouse,
    query: str,
    schema: StructType,
    column: str,
    partitions: int,
    bounds_query: str | None = None,
) -> DataFrame:
    """A large table read in `partitions` parallel JDBC queries split on a numeric column's range.

    The range comes from `bounds_query` (one row: lo, hi) when given, else from min/max over the query itself,
    which costs a run of the query: pass a cheap one for an expensive query.
    """
    if partitions <= 1:
        return read_query(spark, db, query, schema)
    bounds = (
        spark.read.format("jdbc")
        .options(**db.options())
        .option("query", bounds_query or f"SELECT min({column}) AS lo, max({column}) AS hi FROM ({query}) AS q")
        .load()
        .first()
    )
    if bounds is None or bounds["lo"] is None:
        return read_query(spark, db, query, schema)
    reader = (
        spark.read.format("jdbc")
        .options(**db.options())
        .option("dbtable", f"({query}) AS q")
        .option("partitionColumn", column)
        .option("lowerBound", str(bounds["lo"]))
        .option("upperBound", str(bounds["hi"] + 1))
        .option("numPartitions", str(partitions))
        .option("fetchsize", "20000")
    )
    return conform(reader.load(), schema)


def write_staging(db: Warehouse, df: DataFrame, table: str, refreshed_at: datetime) -> None:
    """Replace staging.<table> (never read by BI) with batched inserts; the publish step copies it onwards."""
    url = db.url + ("&" if "?" in db.url else "?") + "reWriteBatchedInserts=true"
    (
        df.withColumn("refreshed_at", F.lit(refreshed_at).cast("timestamp"))
        .write.format("jdbc")
        .options(**{**db.options(), "url": url})
        .option("dbtable", f"staging.{table}")
        .option("truncate", "true")  # keep the staging table's definition between runs
        .option("batchsize", "10000")
        .mode("overwrite")
        .save()
    )
