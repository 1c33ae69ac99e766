-- The KPI summaries hold exactly one row each (violations).
SELECT abs((SELECT count(*) FROM staging.kpi_inventory_summary) - 1)
     + abs((SELECT count(*) FROM staging.kpi_sales_summary) - 1);
