-- Sales per day over the warehouses in `warehouse_ids`, every day of the period (`first_day` .. `today`),
-- 0 on a day without sales (fact_daily_sales). is_complete_day: false for a day still under way (after `dod_day`,
-- the last complete day), as in sales_daily.
SELECT d::date AS date_key,
       coalesce(sum(f.units), 0)::bigint AS units,
       coalesce(sum(f.revenue), 0)::numeric(18, 2) AS revenue,
       coalesce(sum(f.transactions), 0)::bigint AS transactions,
       d::date <= %(dod_day)s::date AS is_complete_day
FROM generate_series(%(first_day)s::date, %(today)s::date, interval '1 day') AS d
LEFT JOIN analytics.fact_daily_sales f ON f.date_key = d::date AND f.warehouse_id = ANY(%(warehouse_ids)s)
GROUP BY d
ORDER BY d
