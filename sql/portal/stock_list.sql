-- The full stock list of the warehouses in `warehouse_ids`: one row per pair of current_stock (with the units on
-- its open purchase orders), with its demand, cover and overstock flag (product_inventory_metrics), its low-stock suggestion (low_stock_data: only pairs at or
-- under the threshold have one) and its units older than the aging threshold (inventory_aging).
--
-- Filters, all bound: `pattern` (an ILIKE pattern on product name or SKU, or null), `category` (or null), `status`
-- (all, low, out, overstock, aging). `{order}` is composed by include/portal/stock.py from an allowlist of the
-- columns below (psycopg2.sql.Identifier), never from the request's text. One page of `limit` rows (null: every
-- row, for the CSV), `page` clamped to the last page; every row carries the totals of the whole filtered list.
WITH filtered AS (
    SELECT c.product_id, c.sku, c.product_name, c.category, c.warehouse_id, c.warehouse_name, c.quantity,
           c.cost_price, c.stock_value, c.on_order_qty, c.counted_at,
           coalesce(m.avg_daily_demand, 0) AS avg_daily_demand,
           m.coverage_days,
           coalesce(m.is_overstock, false) AS is_overstock,
           coalesce(a.aged_units, 0) AS aged_units,
           coalesce(a.aged_value, 0) AS aged_value,
           l.reorder_point,
           l.suggested_order_qty,
           l.product_id IS NOT NULL AS is_low_stock,
           coalesce(l.is_stock_out, false) AS is_stock_out,
           CASE WHEN l.is_stock_out THEN 0 WHEN l.product_id IS NOT NULL THEN 1
                WHEN m.is_overstock THEN 3 ELSE 2 END AS status_rank
    FROM analytics.current_stock c
    LEFT JOIN analytics.product_inventory_metrics m USING (product_id, warehouse_id)
    LEFT JOIN analytics.low_stock_data l USING (product_id, warehouse_id)
    LEFT JOIN (
        SELECT product_id, warehouse_id, sum(aged_units) AS aged_units, sum(aged_value) AS aged_value
        FROM analytics.inventory_aging
        WHERE warehouse_id = ANY(%(warehouse_ids)s)
        GROUP BY product_id, warehouse_id
    ) a USING (product_id, warehouse_id)
    WHERE c.warehouse_id = ANY(%(warehouse_ids)s)
      AND (%(pattern)s::text IS NULL OR c.product_name ILIKE %(pattern)s OR c.sku ILIKE %(pattern)s)
      AND (%(category)s::text IS NULL OR c.category = %(category)s)
      AND CASE %(status)s::text
              WHEN 'low' THEN l.product_id IS NOT NULL
              WHEN 'out' THEN coalesce(l.is_stock_out, false)
              WHEN 'overstock' THEN coalesce(m.is_overstock, false)
              WHEN 'aging' THEN coalesce(a.aged_units, 0) > 0
              ELSE true
          END
), summary AS (
    SELECT count(*) AS total_rows,
           coalesce(sum(quantity), 0)::bigint AS total_units,
           coalesce(sum(stock_value), 0)::numeric(18, 2) AS total_value
    FROM filtered
), paging AS (
    SELECT summary.*,
           CASE WHEN %(limit)s::integer IS NULL THEN 1
                ELSE greatest(1, least(%(page)s::integer, ceil(total_rows / %(limit)s::numeric)::integer))
           END AS page
    FROM summary
)
SELECT f.*, p.total_rows, p.total_units, p.total_value, p.page
FROM paging p
LEFT JOIN LATERAL (
    SELECT * FROM filtered
    ORDER BY {order}
    LIMIT %(limit)s::integer OFFSET (p.page - 1) * coalesce(%(limit)s::integer, 0)
) f ON true
ORDER BY {order}
