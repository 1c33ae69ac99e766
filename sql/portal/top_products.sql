-- top_products (docs/metrics.md) over the warehouses in `warehouse_ids`: products with sales in the period
-- (`first_day` .. `today`), one list per ranking (the top `limit` by revenue, the top `limit` by units), each
-- labelled; RANK() within a list, so ties share a rank.
WITH sold AS (
    SELECT product_id, sum(units)::bigint AS units, sum(revenue) AS revenue
    FROM analytics.fact_daily_sales
    WHERE warehouse_id = ANY(%(warehouse_ids)s) AND date_key BETWEEN %(first_day)s::date AND %(today)s::date
    GROUP BY product_id
), ranked AS (
    SELECT 'revenue' AS ranking, 'Top by revenue' AS ranking_label,
           rank() OVER (ORDER BY s.revenue DESC)::integer AS rank, s.product_id, s.units, s.revenue
    FROM sold s
    UNION ALL
    SELECT 'units', 'Top by units sold', rank() OVER (ORDER BY s.units DESC)::integer, s.product_id, s.units, s.revenue
    FROM sold s
)
SELECT r.ranking, r.ranking_label, r.rank, r.product_id, p.sku, p.product_name, p.category, r.units,
       r.revenue::numeric(18, 2) AS revenue
FROM ranked r
JOIN analytics.dim_products p USING (product_id)
WHERE r.rank <= %(limit)s
ORDER BY r.ranking, r.rank, r.product_id
