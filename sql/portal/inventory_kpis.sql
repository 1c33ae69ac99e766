-- kpi_inventory_summary (docs/metrics.md) over the warehouses in `warehouse_ids`, plus stock-outs and the units
-- the suggested orders add up to. Ratios: integer arithmetic, rounded once half away from zero (README.md).
WITH stock AS (
    SELECT coalesce(sum(quantity), 0) AS total_units,
           count(DISTINCT product_id) AS unique_products,
           coalesce(sum(stock_value), 0) AS stock_value
    FROM analytics.current_stock
    WHERE warehouse_id = ANY(%(warehouse_ids)s)
), aged AS (
    SELECT coalesce(sum(units), 0) AS layer_units,
           coalesce(sum(unit_age_days_sum), 0) AS unit_age_days_sum,
           coalesce(sum(aged_units), 0) AS aging_units,
           coalesce(sum(aged_value), 0) AS aging_value
    FROM analytics.inventory_aging
    WHERE warehouse_id = ANY(%(warehouse_ids)s)
), metrics AS (
    SELECT coalesce(sum(cogs), 0) AS cogs,
           coalesce(sum(avg_inventory_value), 0) AS avg_inventory_value,
           count(*) FILTER (WHERE is_overstock) AS overstock_products,
           coalesce(sum(avg_daily_demand), 0) AS avg_daily_demand
    FROM analytics.product_inventory_metrics
    WHERE warehouse_id = ANY(%(warehouse_ids)s)
), low AS (
    SELECT count(*) AS low_stock_products,
           count(*) FILTER (WHERE is_stock_out) AS stock_out_products,
           coalesce(sum(suggested_order_qty), 0) AS suggested_order_units
    FROM analytics.low_stock_data
    WHERE warehouse_id = ANY(%(warehouse_ids)s)
), operands AS (
    -- numerator and denominator of each ratio, as whole numbers (money in cents)
    SELECT stock.*, aged.*, metrics.*, low.*,
           (metrics.cogs * 100)::numeric AS turnover_n, (metrics.avg_inventory_value * 100)::numeric AS turnover_d,
           aged.unit_age_days_sum::numeric AS age_n, aged.layer_units::numeric AS age_d,
           (aged.aging_value * 100)::numeric AS price_n, (aged.aging_units * 100)::numeric AS price_d
    FROM stock, aged, metrics, low
)
SELECT
    total_units,
    unique_products,
    stock_value::numeric(18, 2) AS stock_value,
    CASE WHEN turnover_d <> 0 THEN (sign(turnover_n) * sign(turnover_d)
        * div(abs(turnover_n) * 20000 + abs(turnover_d), 2 * abs(turnover_d)) / 10000)::numeric(12, 4)
    END AS inventory_turnover,
    CASE WHEN age_d <> 0 THEN (sign(age_n) * sign(age_d)
        * div(abs(age_n) * 200 + abs(age_d), 2 * abs(age_d)) / 100)::numeric(12, 2)
    END AS weighted_aging_days,
    aging_units,
    aging_value::numeric(18, 2) AS aging_value,
    CASE WHEN price_d <> 0 THEN (sign(price_n) * sign(price_d)
        * div(abs(price_n) * 200 + abs(price_d), 2 * abs(price_d)) / 100)::numeric(18, 2)
    END AS avg_price_aging_stock,
    overstock_products,
    low_stock_products,
    avg_daily_demand::numeric(18, 4) AS avg_daily_demand,
    stock_out_products,
    suggested_order_units
FROM operands
