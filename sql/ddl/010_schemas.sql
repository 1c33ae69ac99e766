-- Layers flow one way: raw (ingestion) -> staging (Spark jobs) -> analytics (publish step, read by BI).
-- sim holds the simulator's ground truth; only the simulator writes it and only tests read it.
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS staging;
CREATE SCHEMA IF NOT EXISTS analytics;
CREATE SCHEMA IF NOT EXISTS sim;

COMMENT ON SCHEMA raw IS 'Ingested data: dummyjson catalogue and the retail simulation. Written only by ingestion.';
COMMENT ON SCHEMA staging IS 'Intermediate tables written only by the Spark jobs.';
COMMENT ON SCHEMA analytics IS 'Published tables read by Power BI and the portal. Written only by the publish step.';
COMMENT ON SCHEMA sim IS 'Simulator ground truth (injected shrinkage). Never read by analytics code.';
