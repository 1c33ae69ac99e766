"""A spark-submit application for the tests of include/inventory/spark.py: it reads the warehouse credentials as
spark_jobs/build_analytics.py does and reports what it saw.

    spark-submit warehouse_probe_app.py OUT [--query] [--touch DIR]

Appends one JSON line to OUT: where the credentials came from (the Spark conf, or the environment), the URL and
user, the password's SHA-256 (never the password), whether WAREHOUSE_DB_PASSWORD was in its environment, and every
spark.inventory.test.* property (which defaults reached the driver). Without --query it starts no SparkContext: a
driver JVM and its Python only, a few seconds. With --query it runs `SELECT current_user` over JDBC with those
credentials, on the executors. --touch DIR writes a file into DIR just before the driver exits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # run by spark-submit as a file: spark_jobs importable

from pyspark import SparkConf, SparkContext  # noqa: E402
from pyspark.sql import SparkSession  # noqa: E402
from pyspark.sql.types import StringType, StructField, StructType  # noqa: E402

from spark_jobs.jobio import URL_PROPERTY, Warehouse, read_query  # noqa: E402

WHO = StructType([StructField("who", StringType())])


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("out")
    parser.add_argument("--query", action="store_true")
    parser.add_argument("--touch")
    args = parser.parse_args()

    SparkContext._ensure_initialized()  # the driver JVM's gateway, without a SparkContext: SparkConf() reads its conf
    conf = SparkConf()
    db = Warehouse.from_conf(conf)
    seen = {
        "source": "conf" if conf.get(URL_PROPERTY) else "env",
        "url": db.url,
        "user": db.user,
        "password_sha256": hashlib.sha256(db.password.encode()).hexdigest(),
        "password_in_environment": "WAREHOUSE_DB_PASSWORD" in os.environ,
        "defaults": {k: v for k, v in conf.getAll() if k.startswith("spark.inventory.test.")},
    }
    if args.query:
        spark = SparkSession.builder.appName("warehouse-probe").getOrCreate()
        assert Warehouse.from_spark(spark) == db
        seen["current_user"] = read_query(spark, db, "SELECT current_user::text AS who", WHO).first()["who"]
        spark.stop()
    with open(args.out, "a") as out:
        out.write(json.dumps(seen) + "\n")
    if args.touch:
        Path(args.touch, "written-by-the-job").write_text("a file that appeared on the class path during the run\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
