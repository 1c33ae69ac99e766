-- The reference: the same analytics as PostgreSQL-native SQL (INSERT ... SELECT), one transaction, into the
-- bench's own schema native_sql (tables created LIKE the published ones, primary keys included).
-- Same formulas as spark_jobs/transforms.py (described in docs/metrics.md); bench/pg_native.py checks that the
-- rows equal the published ones. Covers 5 of the 20 published tables (the fact tables are > 95 % of the rows):
-- dim_products, current_stock, fact_daily_sales, fact_inventory_reconciliation, sales_daily.
-- pair_key = product_id x 100000 + warehouse_id (transforms.PAIR_KEY_RADIX).
-- Parameters: as_of (timestamptz), last_day (the UTC date of as_of - 1 microsecond), window_days (the demand
-- window, complete days), refreshed_at.
-- Sections start with "-- table: <name>"; each is timed on its own.
-- Each table is replaced by TRUNCATE + INSERT in the one transaction: the cheapest atomic replace PostgreSQL has
-- (readers wait for the commit instead of reading the old rows, as they do with the publish's DELETE + INSERT).

-- table: dim_products
TRUNCATE native_sql.dim_products;
INSERT INTO native_sql.dim_products
    (product_id, sku, product_name, category, brand, unit, cost_price, selling_price, lead_time, price_band,
     price_band_order, primary_supplier_id, consumption_value, abc_class, refreshed_at)
WITH primary_supplier AS (
    SELECT product_id, min(supplier_id) AS supplier_id FROM raw.product_suppliers WHERE is_primary GROUP BY product_id
), sold AS (
    -- units sold on the demand window's complete UTC days (the window_days days before as_of's date)
    SELECT product_id, sum(units_sold) AS units
    FROM raw.product_sales
    WHERE (sale_date AT TIME ZONE 'UTC')::date
          BETWEEN (%(as_of)s::timestamptz AT TIME ZONE 'UTC')::date - %(window_days)s::int
              AND (%(as_of)s::timestamptz AT TIME ZONE 'UTC')::date - 1
    GROUP BY product_id
), valued AS (
    SELECT p.*, ps.supplier_id AS primary_supplier_id, coalesce(s.units, 0) * p.cost_price AS consumption_value
    FROM raw.products p
    LEFT JOIN primary_supplier ps USING (product_id)
    LEFT JOIN sold s USING (product_id)
), ranked AS (
    -- ABC: largest consumption value first (ties by product_id); A while the share before the row is under 80 percent,
    -- B under 95 percent, else C; all C when the total is 0
    SELECT v.*,
           coalesce(sum(consumption_value) OVER (ORDER BY consumption_value DESC, product_id
                                                 ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING), 0) AS before,
           sum(consumption_value) OVER () AS total
    FROM valued v
)
SELECT product_id, sku, product_name, category, brand, unit, cost_price, selling_price, lead_time,
       CASE WHEN selling_price >= 1000 THEN '1000 and over' WHEN selling_price >= 200 THEN '200 to 999.99'
            WHEN selling_price >= 50 THEN '50 to 199.99' WHEN selling_price >= 10 THEN '10 to 49.99'
            ELSE 'Under 10' END,
       CASE WHEN selling_price >= 1000 THEN 5 WHEN selling_price >= 200 THEN 4 WHEN selling_price >= 50 THEN 3
            WHEN selling_price >= 10 THEN 2 ELSE 1 END,
       primary_supplier_id, consumption_value,
       CASE WHEN total <= 0 THEN 'C' WHEN before * 100 < total * 80 THEN 'A' WHEN before * 100 < total * 95 THEN 'B'
            ELSE 'C' END,
       %(refreshed_at)s
FROM ranked;

-- table: current_stock
TRUNCATE native_sql.current_stock;
INSERT INTO native_sql.current_stock
    (pair_key, product_id, sku, product_name, category, cost_price, selling_price, warehouse_id, warehouse_name,
     location_id, location_name, quantity, counted_at, units_sold, revenue, stock_value, on_order_qty, refreshed_at)
WITH latest AS (
    -- Two counts at the same instant hold the same quantity, so which one DISTINCT ON keeps does not matter.
    SELECT DISTINCT ON (product_id, warehouse_id) product_id, warehouse_id, quantity, counted_at
    FROM raw.inventory WHERE counted_at <= %(as_of)s
    ORDER BY product_id, warehouse_id, counted_at DESC
), sold AS (
    SELECT product_id, warehouse_id, sum(units_sold) AS units_sold, sum(total_revenue) AS revenue
    FROM raw.product_sales WHERE sale_date <= %(as_of)s
    GROUP BY product_id, warehouse_id
), on_order AS (
    -- Open purchase orders: placed by as_of, with no receipt by as_of.
    SELECT product_id, warehouse_id, sum(quantity) AS on_order_qty
    FROM raw.purchase_orders o
    WHERE ordered_at <= %(as_of)s
      AND NOT EXISTS (SELECT 1 FROM raw.stock_receipts r WHERE r.order_id = o.order_id AND r.received_at <= %(as_of)s)
    GROUP BY product_id, warehouse_id
)
SELECT l.product_id::bigint * 100000 + l.warehouse_id, l.product_id, p.sku, p.product_name, p.category, p.cost_price, p.selling_price, l.warehouse_id,
       w.warehouse_name, w.location_id, loc.location_name, l.quantity, l.counted_at,
       coalesce(s.units_sold, 0), coalesce(s.revenue, 0), l.quantity * p.cost_price, coalesce(o.on_order_qty, 0),
       %(refreshed_at)s
FROM latest l
JOIN raw.products p USING (product_id)
JOIN raw.warehouse w USING (warehouse_id)
JOIN raw.warehouse_locations loc ON loc.location_id = w.location_id
LEFT JOIN sold s USING (product_id, warehouse_id)
LEFT JOIN on_order o USING (product_id, warehouse_id);

-- table: fact_daily_sales
TRUNCATE native_sql.fact_daily_sales;
INSERT INTO native_sql.fact_daily_sales
    (date_key, pair_key, product_id, warehouse_id, units, revenue, transactions, refreshed_at)
SELECT (sale_date AT TIME ZONE 'UTC')::date, product_id::bigint * 100000 + warehouse_id, product_id, warehouse_id,
       sum(units_sold), sum(total_revenue), count(*), %(refreshed_at)s
FROM raw.product_sales WHERE sale_date <= %(as_of)s
GROUP BY 1, 3, 4;

-- table: fact_inventory_reconciliation
TRUNCATE native_sql.fact_inventory_reconciliation;
INSERT INTO native_sql.fact_inventory_reconciliation
    (date_key, pair_key, sku, product_id, warehouse_id, product_name, opening_stock, quantity_sold, quantity_received,
     expected_closing_stock, actual_closing_stock, discrepancy_amount, discrepancy_value, refreshed_at)
WITH keyed AS (
    -- Each count keyed by the first midnight at or after it (the day it is the opening stock of); the latest
    -- count per key wins. Two counts at the same instant hold the same quantity.
    SELECT DISTINCT ON (product_id, warehouse_id, key_day) product_id, warehouse_id, key_day, quantity
    FROM (SELECT product_id, warehouse_id, quantity, counted_at,
                 ((counted_at - interval '1 microsecond') AT TIME ZONE 'UTC')::date + 1 AS key_day
          FROM raw.inventory WHERE counted_at <= %(as_of)s) c
    ORDER BY product_id, warehouse_id, key_day, counted_at DESC
), spans AS (
    -- A keyed count is the opening stock of every day until the next keyed day (the last one through
    -- last_day + 1, the close of the last day); the next span's quantity closes the span's last day.
    SELECT product_id, warehouse_id, key_day, quantity,
           lead(quantity) OVER w AS next_quantity,
           coalesce(lead(key_day) OVER w, %(last_day)s::date + 2) AS until
    FROM keyed
    WINDOW w AS (PARTITION BY product_id, warehouse_id ORDER BY key_day)
), closing AS (
    SELECT s.product_id, s.warehouse_id, s.key_day + g AS day, s.quantity AS opening_stock,
           CASE WHEN s.key_day + g + 1 < s.until THEN s.quantity ELSE s.next_quantity END AS actual_closing_stock
    FROM spans s CROSS JOIN LATERAL generate_series(0, s.until - s.key_day - 1) AS g
    WHERE s.key_day <= %(last_day)s::date
), sold AS (
    SELECT product_id, warehouse_id, (sale_date AT TIME ZONE 'UTC')::date AS day, sum(units_sold) AS units
    FROM raw.product_sales WHERE sale_date < %(as_of)s GROUP BY 1, 2, 3
), received AS (
    SELECT product_id, warehouse_id, (received_at AT TIME ZONE 'UTC')::date AS day, sum(quantity) AS units
    FROM raw.stock_receipts WHERE received_at < %(as_of)s GROUP BY 1, 2, 3
)
SELECT c.day, c.product_id::bigint * 100000 + c.warehouse_id, p.sku, c.product_id, c.warehouse_id, p.product_name, c.opening_stock,
       coalesce(s.units, 0), coalesce(r.units, 0),
       c.opening_stock + coalesce(r.units, 0) - coalesce(s.units, 0),
       c.actual_closing_stock,
       c.actual_closing_stock - (c.opening_stock + coalesce(r.units, 0) - coalesce(s.units, 0)),
       (c.actual_closing_stock - (c.opening_stock + coalesce(r.units, 0) - coalesce(s.units, 0))) * p.cost_price,
       %(refreshed_at)s
FROM closing c
JOIN raw.products p USING (product_id)
LEFT JOIN sold s USING (product_id, warehouse_id, day)
LEFT JOIN received r USING (product_id, warehouse_id, day)
WHERE c.day <= %(last_day)s::date;

-- table: sales_daily
TRUNCATE native_sql.sales_daily;
INSERT INTO native_sql.sales_daily (date_key, units, revenue, transactions, is_complete_day, revenue_growth_pct,
                                    refreshed_at)
WITH daily AS (
    SELECT date_key, sum(units) AS units, sum(revenue) AS revenue, sum(transactions) AS transactions
    FROM native_sql.fact_daily_sales GROUP BY date_key
)
SELECT d.date_key, d.units, d.revenue, d.transactions,
       -- complete: the day ended at or before as_of (as_of's own date is under way)
       d.date_key < (%(as_of)s::timestamptz AT TIME ZONE 'UTC')::date,
       -- numeric round() is half away from zero, as the transforms' _ratio; complete days only
       CASE WHEN prev.revenue <> 0 AND d.date_key < (%(as_of)s::timestamptz AT TIME ZONE 'UTC')::date
            THEN round((d.revenue - prev.revenue) * 100 / prev.revenue, 2) END,
       %(refreshed_at)s
FROM daily d LEFT JOIN daily prev ON prev.date_key = d.date_key - 1;
