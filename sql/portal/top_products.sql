-- top_products (docs/metrics.md) over the warehouses in `warehouse_ids`: products with sales in the period
-- (`first_day` .. `today`) in the top `limit` by revenue or by units; RANK(), so ties share a rank.
WITH sold AS (
    SELECT product_id, sum(units)::bigint AS units, sum(revenue) AS revenue
    FROM analytics.fact_daily_sales
    WHERE warehouse_id = ANY(%(warehouse_ids)s) AND date_key BETWEEN %(first_day)s::date AND %(today)s::date
    GROUP BY product_id
), ranked AS (
    SELECT s.product_id, p.sku, p.product_name, p.category, s.units, s.revenue::numeric(18, 2) AS revenue,
           rank() OVER (ORDER BY s.revenue DESC) AS rank_by_revenue,
           rank() OVER (ORDER BY s.units DESC) AS rank_by_units
    FROM sold s
    JOIN analytics.dim_products p USING (product_id)
)
SELECT product_id, sku, product_name, category, units, revenue, rank_by_revenue, rank_by_units
FROM ranked
WHERE rank_by_revenue <= %(limit)s OR rank_by_units <= %(limit)s
ORDER BY rank_by_revenue, rank_by_units, product_id
