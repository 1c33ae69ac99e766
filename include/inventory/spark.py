"""SparkSubmitOperator that hands the warehouse credentials to the Spark driver through its environment.

SparkSubmitOperator logs its whole command line and renders `env_vars` into the UI, so the credentials are
added at execute time, after rendering, from the `warehouse_db` connection; they never appear in argv, in the
rendered fields or in the logs (Airflow masks connection passwords it has read).
"""

from __future__ import annotations

import sys

from airflow.providers.apache.spark.operators.spark_submit import SparkSubmitOperator
from airflow.sdk import BaseHook

from include.inventory.config import WAREHOUSE_CONN_ID


class WarehouseSparkSubmitOperator(SparkSubmitOperator):
    def execute(self, context):
        c = BaseHook.get_connection(WAREHOUSE_CONN_ID)
        self.env_vars = {
            **(self.env_vars or {}),
            "WAREHOUSE_JDBC_URL": f"jdbc:postgresql://{c.host or '127.0.0.1'}:{c.port or 5432}/{c.schema}",
            "WAREHOUSE_DB_USER": c.login or "",
            "WAREHOUSE_DB_PASSWORD": c.password or "",
            # The driver runs the same interpreter as the worker (pyspark and the job's imports are there).
            "PYSPARK_PYTHON": sys.executable,
            "PYSPARK_DRIVER_PYTHON": sys.executable,
        }
        return super().execute(context)
