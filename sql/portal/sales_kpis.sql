-- kpi_sales_summary (docs/metrics.md) over the warehouses in `warehouse_ids`, from fact_daily_sales: week to date
-- (`monday` .. `today`), the period (`first_day` .. `today`) and its average per day (`period_days`), and
-- day-on-day growth on complete days: `dod_day` (the last complete day) against `dod_previous_day` (a day without
-- sales counts 0). Ratios: README.md.
WITH daily AS (
    SELECT date_key, sum(units)::bigint AS units, sum(revenue) AS revenue
    FROM analytics.fact_daily_sales
    WHERE warehouse_id = ANY(%(warehouse_ids)s)
      AND date_key BETWEEN least(%(first_day)s::date, %(monday)s::date, %(dod_previous_day)s::date) AND %(today)s::date
    GROUP BY date_key
), totals AS (
    SELECT coalesce(sum(revenue) FILTER (WHERE date_key >= %(monday)s::date), 0) AS wtd_revenue,
           coalesce(sum(units) FILTER (WHERE date_key >= %(monday)s::date), 0)::bigint AS wtd_units,
           coalesce(sum(revenue) FILTER (WHERE date_key >= %(first_day)s::date), 0) AS total_revenue,
           coalesce(sum(units) FILTER (WHERE date_key >= %(first_day)s::date), 0)::bigint AS total_units,
           coalesce(sum(revenue) FILTER (WHERE date_key = %(dod_day)s::date), 0) AS dod_revenue,
           coalesce(sum(revenue) FILTER (WHERE date_key = %(dod_previous_day)s::date), 0) AS dod_previous_revenue
    FROM daily
), operands AS (
    SELECT totals.*,
           (total_revenue * 100)::numeric AS ads_n, (%(period_days)s::integer * 100)::numeric AS ads_d,
           ((dod_revenue - dod_previous_revenue) * 100 * 100)::numeric AS dod_n,
           (dod_previous_revenue * 100)::numeric AS dod_d
    FROM totals
)
SELECT
    wtd_revenue::numeric(18, 2) AS wtd_revenue,
    wtd_units,
    CASE WHEN ads_d <> 0 THEN (sign(ads_n) * sign(ads_d)
        * div(abs(ads_n) * 200 + abs(ads_d), 2 * abs(ads_d)) / 100)::numeric(18, 2)
    END AS avg_daily_sales,
    total_revenue::numeric(18, 2) AS total_revenue,
    total_units,
    %(dod_day)s::date AS dod_day,
    dod_revenue::numeric(18, 2) AS dod_revenue,
    dod_previous_revenue::numeric(18, 2) AS dod_previous_revenue,
    CASE WHEN dod_d <> 0 THEN (sign(dod_n) * sign(dod_d)
        * div(abs(dod_n) * 200 + abs(dod_d), 2 * abs(dod_d)) / 100)::numeric(18, 2)
    END AS dod_growth_pct
FROM operands
