-- GENERATED from spark_jobs/registry.py by `make ddl`: edit the registry, not this file (a test compares
-- them). The published tables, declared: `staging.<t>` (written by the Spark job, read by the gate and the
-- publish step, never by BI) and `analytics.<t>` (written only by the publish step; what Power BI, the
-- portal and the alerts read). Both are created empty here; a run that finds a table of an older release's
-- shape replaces it (the staging table before the Spark job writes, the analytics table as it publishes).

-- staging
CREATE TABLE IF NOT EXISTS staging.current_stock (
    pair_key bigint NOT NULL,
    product_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    category text NOT NULL,
    cost_price numeric(12,2) NOT NULL,
    selling_price numeric(12,2) NOT NULL,
    warehouse_id integer NOT NULL,
    warehouse_name text NOT NULL,
    location_id integer NOT NULL,
    location_name text NOT NULL,
    quantity integer NOT NULL,
    counted_at timestamp with time zone NOT NULL,
    units_sold bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    stock_value numeric(18,2) NOT NULL,
    on_order_qty bigint NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.low_stock_data (
    pair_key bigint NOT NULL,
    product_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    category text NOT NULL,
    cost_price numeric(12,2) NOT NULL,
    selling_price numeric(12,2) NOT NULL,
    warehouse_id integer NOT NULL,
    warehouse_name text NOT NULL,
    location_id integer NOT NULL,
    location_name text NOT NULL,
    quantity integer NOT NULL,
    counted_at timestamp with time zone NOT NULL,
    units_sold bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    stock_value numeric(18,2) NOT NULL,
    on_order_qty bigint NOT NULL,
    avg_daily_demand numeric(12,4) NOT NULL,
    lead_time integer NOT NULL,
    reorder_point integer NOT NULL,
    suggested_order_qty integer NOT NULL,
    days_of_cover numeric(12,2),
    is_stock_out boolean NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.inventory_aging (
    pair_key bigint NOT NULL,
    product_id integer NOT NULL,
    warehouse_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    bucket text NOT NULL,
    bucket_order integer NOT NULL,
    units integer NOT NULL,
    value numeric(18,2) NOT NULL,
    unit_age_days_sum bigint NOT NULL,
    aging_threshold_days integer NOT NULL,
    aged_units integer NOT NULL,
    aged_value numeric(18,2) NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.product_inventory_metrics (
    pair_key bigint NOT NULL,
    product_id integer NOT NULL,
    warehouse_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    category text NOT NULL,
    warehouse_name text NOT NULL,
    on_hand integer NOT NULL,
    stock_value numeric(18,2) NOT NULL,
    avg_daily_demand numeric(12,4) NOT NULL,
    coverage_days numeric(12,2),
    is_overstock boolean NOT NULL,
    cogs numeric(18,2) NOT NULL,
    avg_inventory_value numeric(18,2),
    turnover numeric(12,4),
    consumption_value numeric(18,2) NOT NULL,
    abc_class text NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.inventory_by_warehouse (
    warehouse_id integer NOT NULL,
    total_units bigint NOT NULL,
    unique_products bigint NOT NULL,
    stock_value numeric(18,2) NOT NULL,
    low_stock_products bigint NOT NULL,
    stock_out_products bigint NOT NULL,
    aging_units bigint NOT NULL,
    aging_value numeric(18,2) NOT NULL,
    overstock_products bigint NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.low_stock_by_warehouse (
    warehouse_id integer NOT NULL,
    warehouse_name text NOT NULL,
    location_name text NOT NULL,
    low_stock_products bigint NOT NULL,
    stock_out_products bigint NOT NULL,
    suggested_order_units bigint NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.sales_by_warehouse (
    warehouse_id integer NOT NULL,
    warehouse_name text NOT NULL,
    location_id integer NOT NULL,
    location_name text NOT NULL,
    units bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.top_products (
    ranking text NOT NULL,
    ranking_label text NOT NULL,
    rank integer NOT NULL,
    product_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    category text NOT NULL,
    units bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.fact_daily_sales (
    pair_key bigint NOT NULL,
    date_key date NOT NULL,
    product_id integer NOT NULL,
    warehouse_id integer NOT NULL,
    units bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    transactions bigint NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.fact_inventory_reconciliation (
    pair_key bigint NOT NULL,
    date_key date NOT NULL,
    sku text NOT NULL,
    product_id integer NOT NULL,
    warehouse_id integer NOT NULL,
    product_name text NOT NULL,
    opening_stock integer NOT NULL,
    quantity_sold bigint NOT NULL,
    quantity_received bigint NOT NULL,
    expected_closing_stock bigint NOT NULL,
    actual_closing_stock integer NOT NULL,
    discrepancy_amount bigint NOT NULL,
    discrepancy_value numeric(18,2) NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.sales_daily_by_warehouse (
    date_key date NOT NULL,
    warehouse_id integer NOT NULL,
    units bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    transactions bigint NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.sales_daily (
    date_key date NOT NULL,
    units bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    transactions bigint NOT NULL,
    is_complete_day boolean NOT NULL,
    revenue_growth_pct numeric(18,2),
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.kpi_inventory_summary (
    total_units bigint NOT NULL,
    unique_products bigint NOT NULL,
    stock_value numeric(18,2) NOT NULL,
    inventory_turnover numeric(12,4),
    weighted_aging_days numeric(12,2),
    aging_units bigint NOT NULL,
    aging_value numeric(18,2) NOT NULL,
    avg_price_aging_stock numeric(18,2),
    overstock_products bigint NOT NULL,
    low_stock_products bigint NOT NULL,
    avg_daily_demand numeric(18,4) NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.kpi_sales_summary (
    wtd_revenue numeric(18,2) NOT NULL,
    wtd_units bigint NOT NULL,
    avg_daily_sales numeric(18,2) NOT NULL,
    total_revenue numeric(18,2) NOT NULL,
    total_units bigint NOT NULL,
    dod_day date NOT NULL,
    dod_revenue numeric(18,2) NOT NULL,
    dod_previous_revenue numeric(18,2) NOT NULL,
    dod_growth_pct numeric(18,2),
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.dim_products (
    product_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    category text NOT NULL,
    brand text,
    unit text NOT NULL,
    cost_price numeric(12,2) NOT NULL,
    selling_price numeric(12,2) NOT NULL,
    lead_time integer NOT NULL,
    price_band text NOT NULL,
    price_band_order integer NOT NULL,
    primary_supplier_id integer,
    consumption_value numeric(18,2) NOT NULL,
    abc_class text NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.dim_date (
    date_key date NOT NULL,
    year integer NOT NULL,
    quarter integer NOT NULL,
    month integer NOT NULL,
    month_name text NOT NULL,
    day_of_month integer NOT NULL,
    iso_year integer NOT NULL,
    iso_week integer NOT NULL,
    iso_day_of_week integer NOT NULL,
    day_name text NOT NULL,
    is_weekend boolean NOT NULL,
    week_start date NOT NULL,
    is_week_to_date boolean NOT NULL,
    is_month_to_date boolean NOT NULL,
    is_complete_day boolean NOT NULL,
    days_ago integer NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.dim_location (
    location_id integer NOT NULL,
    location_name text NOT NULL,
    city text NOT NULL,
    state text,
    country text NOT NULL,
    region text NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.dim_warehouse (
    warehouse_id integer NOT NULL,
    warehouse_name text NOT NULL,
    capacity integer NOT NULL,
    location_id integer NOT NULL,
    location_name text NOT NULL,
    city text NOT NULL,
    state text,
    country text NOT NULL,
    region text NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.dim_supplier (
    supplier_id integer NOT NULL,
    supplier_name text NOT NULL,
    country text,
    refreshed_at timestamp with time zone NOT NULL
);

CREATE TABLE IF NOT EXISTS staging.dim_stock_item (
    pair_key bigint NOT NULL,
    product_id integer NOT NULL,
    warehouse_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    warehouse_name text NOT NULL,
    location_name text NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);

-- analytics
CREATE TABLE IF NOT EXISTS analytics.current_stock (
    pair_key bigint NOT NULL,
    product_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    category text NOT NULL,
    cost_price numeric(12,2) NOT NULL,
    selling_price numeric(12,2) NOT NULL,
    warehouse_id integer NOT NULL,
    warehouse_name text NOT NULL,
    location_id integer NOT NULL,
    location_name text NOT NULL,
    quantity integer NOT NULL,
    counted_at timestamp with time zone NOT NULL,
    units_sold bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    stock_value numeric(18,2) NOT NULL,
    on_order_qty bigint NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (product_id, warehouse_id)
);
CREATE INDEX IF NOT EXISTS current_stock_pair_key_idx ON analytics.current_stock (pair_key);
CREATE INDEX IF NOT EXISTS current_stock_warehouse_id_idx ON analytics.current_stock (warehouse_id);
COMMENT ON TABLE analytics.current_stock IS 'one row per pair with a count at or before as_of';
COMMENT ON COLUMN analytics.current_stock.pair_key IS 'the pair''s single-column key, product_id x 100000 + warehouse_id (dim_stock_item)';
COMMENT ON COLUMN analytics.current_stock.product_id IS 'the product (dim_products)';
COMMENT ON COLUMN analytics.current_stock.sku IS 'the product''s SKU';
COMMENT ON COLUMN analytics.current_stock.product_name IS 'the product''s name';
COMMENT ON COLUMN analytics.current_stock.category IS 'the product''s category';
COMMENT ON COLUMN analytics.current_stock.cost_price IS 'the product''s unit cost';
COMMENT ON COLUMN analytics.current_stock.selling_price IS 'the product''s unit selling price';
COMMENT ON COLUMN analytics.current_stock.warehouse_id IS 'the warehouse (dim_warehouse)';
COMMENT ON COLUMN analytics.current_stock.warehouse_name IS 'the warehouse''s name';
COMMENT ON COLUMN analytics.current_stock.location_id IS 'the warehouse''s location (dim_location)';
COMMENT ON COLUMN analytics.current_stock.location_name IS 'the location''s name';
COMMENT ON COLUMN analytics.current_stock.quantity IS 'on hand: the latest count at or before as_of';
COMMENT ON COLUMN analytics.current_stock.counted_at IS 'when that count was taken';
COMMENT ON COLUMN analytics.current_stock.units_sold IS 'units sold up to as_of; 0 when none';
COMMENT ON COLUMN analytics.current_stock.revenue IS 'revenue of those sales; 0.00 when none';
COMMENT ON COLUMN analytics.current_stock.stock_value IS 'quantity x cost_price';
COMMENT ON COLUMN analytics.current_stock.on_order_qty IS 'units on the pair''s open purchase orders; 0 when none';
COMMENT ON COLUMN analytics.current_stock.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.low_stock_data (
    pair_key bigint NOT NULL,
    product_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    category text NOT NULL,
    cost_price numeric(12,2) NOT NULL,
    selling_price numeric(12,2) NOT NULL,
    warehouse_id integer NOT NULL,
    warehouse_name text NOT NULL,
    location_id integer NOT NULL,
    location_name text NOT NULL,
    quantity integer NOT NULL,
    counted_at timestamp with time zone NOT NULL,
    units_sold bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    stock_value numeric(18,2) NOT NULL,
    on_order_qty bigint NOT NULL,
    avg_daily_demand numeric(12,4) NOT NULL,
    lead_time integer NOT NULL,
    reorder_point integer NOT NULL,
    suggested_order_qty integer NOT NULL,
    days_of_cover numeric(12,2),
    is_stock_out boolean NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (product_id, warehouse_id)
);
CREATE INDEX IF NOT EXISTS low_stock_data_pair_key_idx ON analytics.low_stock_data (pair_key);
CREATE INDEX IF NOT EXISTS low_stock_data_warehouse_id_idx ON analytics.low_stock_data (warehouse_id);
COMMENT ON TABLE analytics.low_stock_data IS 'one row per current_stock pair with quantity <= the low-stock threshold';
COMMENT ON COLUMN analytics.low_stock_data.pair_key IS 'the pair''s single-column key, product_id x 100000 + warehouse_id (dim_stock_item)';
COMMENT ON COLUMN analytics.low_stock_data.product_id IS 'the product (dim_products)';
COMMENT ON COLUMN analytics.low_stock_data.sku IS 'the product''s SKU';
COMMENT ON COLUMN analytics.low_stock_data.product_name IS 'the product''s name';
COMMENT ON COLUMN analytics.low_stock_data.category IS 'the product''s category';
COMMENT ON COLUMN analytics.low_stock_data.cost_price IS 'the product''s unit cost';
COMMENT ON COLUMN analytics.low_stock_data.selling_price IS 'the product''s unit selling price';
COMMENT ON COLUMN analytics.low_stock_data.warehouse_id IS 'the warehouse (dim_warehouse)';
COMMENT ON COLUMN analytics.low_stock_data.warehouse_name IS 'the warehouse''s name';
COMMENT ON COLUMN analytics.low_stock_data.location_id IS 'the warehouse''s location (dim_location)';
COMMENT ON COLUMN analytics.low_stock_data.location_name IS 'the location''s name';
COMMENT ON COLUMN analytics.low_stock_data.quantity IS 'on hand: the latest count at or before as_of';
COMMENT ON COLUMN analytics.low_stock_data.counted_at IS 'when that count was taken';
COMMENT ON COLUMN analytics.low_stock_data.units_sold IS 'units sold up to as_of; 0 when none';
COMMENT ON COLUMN analytics.low_stock_data.revenue IS 'revenue of those sales; 0.00 when none';
COMMENT ON COLUMN analytics.low_stock_data.stock_value IS 'quantity x cost_price';
COMMENT ON COLUMN analytics.low_stock_data.on_order_qty IS 'units on the pair''s open purchase orders; 0 when none';
COMMENT ON COLUMN analytics.low_stock_data.avg_daily_demand IS 'units per day over the demand window''s complete days (d)';
COMMENT ON COLUMN analytics.low_stock_data.lead_time IS 'the product''s lead time in days';
COMMENT ON COLUMN analytics.low_stock_data.reorder_point IS 'ceil(d x lead_time + d x safety_days)';
COMMENT ON COLUMN analytics.low_stock_data.suggested_order_qty IS 'the order up to reorder point + cover, net of open purchase orders';
COMMENT ON COLUMN analytics.low_stock_data.days_of_cover IS 'quantity / d, 2 places; null when d = 0';
COMMENT ON COLUMN analytics.low_stock_data.is_stock_out IS 'quantity = 0';
COMMENT ON COLUMN analytics.low_stock_data.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.inventory_aging (
    pair_key bigint NOT NULL,
    product_id integer NOT NULL,
    warehouse_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    bucket text NOT NULL,
    bucket_order integer NOT NULL,
    units integer NOT NULL,
    value numeric(18,2) NOT NULL,
    unit_age_days_sum bigint NOT NULL,
    aging_threshold_days integer NOT NULL,
    aged_units integer NOT NULL,
    aged_value numeric(18,2) NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (product_id, warehouse_id, bucket_order)
);
CREATE INDEX IF NOT EXISTS inventory_aging_pair_key_idx ON analytics.inventory_aging (pair_key);
CREATE INDEX IF NOT EXISTS inventory_aging_warehouse_id_idx ON analytics.inventory_aging (warehouse_id);
COMMENT ON TABLE analytics.inventory_aging IS 'four rows per current_stock pair, one per age bucket';
COMMENT ON COLUMN analytics.inventory_aging.pair_key IS 'the pair''s single-column key, product_id x 100000 + warehouse_id (dim_stock_item)';
COMMENT ON COLUMN analytics.inventory_aging.product_id IS 'the product (dim_products)';
COMMENT ON COLUMN analytics.inventory_aging.warehouse_id IS 'the warehouse (dim_warehouse)';
COMMENT ON COLUMN analytics.inventory_aging.sku IS 'the product''s SKU';
COMMENT ON COLUMN analytics.inventory_aging.product_name IS 'the product''s name';
COMMENT ON COLUMN analytics.inventory_aging.bucket IS 'the age bucket: 0-30 Days, 31-60 Days, 61-90 Days, 90+ Days';
COMMENT ON COLUMN analytics.inventory_aging.bucket_order IS 'the bucket''s order, 1 to 4';
COMMENT ON COLUMN analytics.inventory_aging.units IS 'on-hand units in layers of that age (FIFO); the 4 rows add up to on hand';
COMMENT ON COLUMN analytics.inventory_aging.value IS 'units x cost_price';
COMMENT ON COLUMN analytics.inventory_aging.unit_age_days_sum IS 'sum of the bucket''s units'' ages in days (for weighted averages)';
COMMENT ON COLUMN analytics.inventory_aging.aging_threshold_days IS 'the threshold aged_units uses';
COMMENT ON COLUMN analytics.inventory_aging.aged_units IS 'units older than aging_threshold_days';
COMMENT ON COLUMN analytics.inventory_aging.aged_value IS 'aged_units x cost_price';
COMMENT ON COLUMN analytics.inventory_aging.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.product_inventory_metrics (
    pair_key bigint NOT NULL,
    product_id integer NOT NULL,
    warehouse_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    category text NOT NULL,
    warehouse_name text NOT NULL,
    on_hand integer NOT NULL,
    stock_value numeric(18,2) NOT NULL,
    avg_daily_demand numeric(12,4) NOT NULL,
    coverage_days numeric(12,2),
    is_overstock boolean NOT NULL,
    cogs numeric(18,2) NOT NULL,
    avg_inventory_value numeric(18,2),
    turnover numeric(12,4),
    consumption_value numeric(18,2) NOT NULL,
    abc_class text NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (product_id, warehouse_id)
);
CREATE INDEX IF NOT EXISTS product_inventory_metrics_pair_key_idx ON analytics.product_inventory_metrics (pair_key);
CREATE INDEX IF NOT EXISTS product_inventory_metrics_warehouse_id_idx ON analytics.product_inventory_metrics (warehouse_id);
COMMENT ON TABLE analytics.product_inventory_metrics IS 'one row per current_stock pair';
COMMENT ON COLUMN analytics.product_inventory_metrics.pair_key IS 'the pair''s single-column key, product_id x 100000 + warehouse_id (dim_stock_item)';
COMMENT ON COLUMN analytics.product_inventory_metrics.product_id IS 'the product (dim_products)';
COMMENT ON COLUMN analytics.product_inventory_metrics.warehouse_id IS 'the warehouse (dim_warehouse)';
COMMENT ON COLUMN analytics.product_inventory_metrics.sku IS 'the product''s SKU';
COMMENT ON COLUMN analytics.product_inventory_metrics.product_name IS 'the product''s name';
COMMENT ON COLUMN analytics.product_inventory_metrics.category IS 'the product''s category';
COMMENT ON COLUMN analytics.product_inventory_metrics.warehouse_name IS 'the warehouse''s name';
COMMENT ON COLUMN analytics.product_inventory_metrics.on_hand IS 'current_stock.quantity';
COMMENT ON COLUMN analytics.product_inventory_metrics.stock_value IS 'current_stock.stock_value';
COMMENT ON COLUMN analytics.product_inventory_metrics.avg_daily_demand IS 'units per day over the demand window''s complete days (d)';
COMMENT ON COLUMN analytics.product_inventory_metrics.coverage_days IS 'on_hand / d, 2 places; null when d = 0';
COMMENT ON COLUMN analytics.product_inventory_metrics.is_overstock IS 'cover above overstock_days, or no demand and stock on hand';
COMMENT ON COLUMN analytics.product_inventory_metrics.cogs IS 'units sold in the window x cost_price';
COMMENT ON COLUMN analytics.product_inventory_metrics.avg_inventory_value IS 'mean closing stock value over the window';
COMMENT ON COLUMN analytics.product_inventory_metrics.turnover IS 'cogs / avg_inventory_value, 4 places';
COMMENT ON COLUMN analytics.product_inventory_metrics.consumption_value IS 'cogs: what the ABC class ranks by';
COMMENT ON COLUMN analytics.product_inventory_metrics.abc_class IS 'A, B or C by share of consumption value over all pairs';
COMMENT ON COLUMN analytics.product_inventory_metrics.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.inventory_by_warehouse (
    warehouse_id integer NOT NULL,
    total_units bigint NOT NULL,
    unique_products bigint NOT NULL,
    stock_value numeric(18,2) NOT NULL,
    low_stock_products bigint NOT NULL,
    stock_out_products bigint NOT NULL,
    aging_units bigint NOT NULL,
    aging_value numeric(18,2) NOT NULL,
    overstock_products bigint NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (warehouse_id)
);
COMMENT ON TABLE analytics.inventory_by_warehouse IS 'one row per warehouse (every warehouse)';
COMMENT ON COLUMN analytics.inventory_by_warehouse.warehouse_id IS 'the warehouse (dim_warehouse)';
COMMENT ON COLUMN analytics.inventory_by_warehouse.total_units IS 'units on hand';
COMMENT ON COLUMN analytics.inventory_by_warehouse.unique_products IS 'products with a count in the warehouse';
COMMENT ON COLUMN analytics.inventory_by_warehouse.stock_value IS 'value on hand at cost';
COMMENT ON COLUMN analytics.inventory_by_warehouse.low_stock_products IS 'low_stock_data rows';
COMMENT ON COLUMN analytics.inventory_by_warehouse.stock_out_products IS 'of those, stocked out';
COMMENT ON COLUMN analytics.inventory_by_warehouse.aging_units IS 'units older than the aging threshold';
COMMENT ON COLUMN analytics.inventory_by_warehouse.aging_value IS 'their value at cost';
COMMENT ON COLUMN analytics.inventory_by_warehouse.overstock_products IS 'product_inventory_metrics rows with is_overstock';
COMMENT ON COLUMN analytics.inventory_by_warehouse.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.low_stock_by_warehouse (
    warehouse_id integer NOT NULL,
    warehouse_name text NOT NULL,
    location_name text NOT NULL,
    low_stock_products bigint NOT NULL,
    stock_out_products bigint NOT NULL,
    suggested_order_units bigint NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (warehouse_id)
);
COMMENT ON TABLE analytics.low_stock_by_warehouse IS 'one row per warehouse with a low-stock pair';
COMMENT ON COLUMN analytics.low_stock_by_warehouse.warehouse_id IS 'the warehouse (dim_warehouse)';
COMMENT ON COLUMN analytics.low_stock_by_warehouse.warehouse_name IS 'the warehouse''s name';
COMMENT ON COLUMN analytics.low_stock_by_warehouse.location_name IS 'the location''s name';
COMMENT ON COLUMN analytics.low_stock_by_warehouse.low_stock_products IS 'low_stock_data rows (products) in the warehouse';
COMMENT ON COLUMN analytics.low_stock_by_warehouse.stock_out_products IS 'of those, stocked out';
COMMENT ON COLUMN analytics.low_stock_by_warehouse.suggested_order_units IS 'sum of suggested_order_qty (net of open purchase orders)';
COMMENT ON COLUMN analytics.low_stock_by_warehouse.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.sales_by_warehouse (
    warehouse_id integer NOT NULL,
    warehouse_name text NOT NULL,
    location_id integer NOT NULL,
    location_name text NOT NULL,
    units bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (warehouse_id)
);
COMMENT ON TABLE analytics.sales_by_warehouse IS 'one row per warehouse (every warehouse), over the KPI period';
COMMENT ON COLUMN analytics.sales_by_warehouse.warehouse_id IS 'the warehouse (dim_warehouse)';
COMMENT ON COLUMN analytics.sales_by_warehouse.warehouse_name IS 'the warehouse''s name';
COMMENT ON COLUMN analytics.sales_by_warehouse.location_id IS 'the warehouse''s location (dim_location)';
COMMENT ON COLUMN analytics.sales_by_warehouse.location_name IS 'the location''s name';
COMMENT ON COLUMN analytics.sales_by_warehouse.units IS 'units sold in the period_days days ending with as_of''s date; 0 when none';
COMMENT ON COLUMN analytics.sales_by_warehouse.revenue IS 'their revenue; 0.00 when none';
COMMENT ON COLUMN analytics.sales_by_warehouse.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.top_products (
    ranking text NOT NULL,
    ranking_label text NOT NULL,
    rank integer NOT NULL,
    product_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    category text NOT NULL,
    units bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (ranking, rank, product_id)
);
COMMENT ON TABLE analytics.top_products IS 'two labelled lists: the top products by revenue and by units over the KPI period';
COMMENT ON COLUMN analytics.top_products.ranking IS 'the list: revenue or units';
COMMENT ON COLUMN analytics.top_products.ranking_label IS 'the list''s title';
COMMENT ON COLUMN analytics.top_products.rank IS 'RANK() by the list''s measure, descending (ties share a rank)';
COMMENT ON COLUMN analytics.top_products.product_id IS 'the product (dim_products)';
COMMENT ON COLUMN analytics.top_products.sku IS 'the product''s SKU';
COMMENT ON COLUMN analytics.top_products.product_name IS 'the product''s name';
COMMENT ON COLUMN analytics.top_products.category IS 'the product''s category';
COMMENT ON COLUMN analytics.top_products.units IS 'units sold in the period';
COMMENT ON COLUMN analytics.top_products.revenue IS 'their revenue';
COMMENT ON COLUMN analytics.top_products.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.fact_daily_sales (
    pair_key bigint NOT NULL,
    date_key date NOT NULL,
    product_id integer NOT NULL,
    warehouse_id integer NOT NULL,
    units bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    transactions bigint NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (date_key, product_id, warehouse_id)
);
CREATE INDEX IF NOT EXISTS fact_daily_sales_warehouse_id_date_key_idx ON analytics.fact_daily_sales (warehouse_id, date_key);
CREATE INDEX IF NOT EXISTS fact_daily_sales_product_id_date_key_idx ON analytics.fact_daily_sales (product_id, date_key);
CREATE INDEX IF NOT EXISTS fact_daily_sales_pair_key_date_key_idx ON analytics.fact_daily_sales (pair_key, date_key);
COMMENT ON TABLE analytics.fact_daily_sales IS 'one row per day x pair with a sale (sales up to as_of)';
COMMENT ON COLUMN analytics.fact_daily_sales.pair_key IS 'the pair''s single-column key, product_id x 100000 + warehouse_id (dim_stock_item)';
COMMENT ON COLUMN analytics.fact_daily_sales.date_key IS 'the UTC day (dim_date)';
COMMENT ON COLUMN analytics.fact_daily_sales.product_id IS 'the product (dim_products)';
COMMENT ON COLUMN analytics.fact_daily_sales.warehouse_id IS 'the warehouse (dim_warehouse)';
COMMENT ON COLUMN analytics.fact_daily_sales.units IS 'units sold';
COMMENT ON COLUMN analytics.fact_daily_sales.revenue IS 'revenue';
COMMENT ON COLUMN analytics.fact_daily_sales.transactions IS 'sale lines';
COMMENT ON COLUMN analytics.fact_daily_sales.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.fact_inventory_reconciliation (
    pair_key bigint NOT NULL,
    date_key date NOT NULL,
    sku text NOT NULL,
    product_id integer NOT NULL,
    warehouse_id integer NOT NULL,
    product_name text NOT NULL,
    opening_stock integer NOT NULL,
    quantity_sold bigint NOT NULL,
    quantity_received bigint NOT NULL,
    expected_closing_stock bigint NOT NULL,
    actual_closing_stock integer NOT NULL,
    discrepancy_amount bigint NOT NULL,
    discrepancy_value numeric(18,2) NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (date_key, product_id, warehouse_id)
);
CREATE INDEX IF NOT EXISTS fact_inventory_reconciliation_warehouse_id_date_key_idx ON analytics.fact_inventory_reconciliation (warehouse_id, date_key);
CREATE INDEX IF NOT EXISTS fact_inventory_reconciliation_product_id_date_key_idx ON analytics.fact_inventory_reconciliation (product_id, date_key);
CREATE INDEX IF NOT EXISTS fact_inventory_reconciliation_pair_key_date_key_idx ON analytics.fact_inventory_reconciliation (pair_key, date_key);
COMMENT ON TABLE analytics.fact_inventory_reconciliation IS 'one row per day x pair, from the pair''s first opening count';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.pair_key IS 'the pair''s single-column key, product_id x 100000 + warehouse_id (dim_stock_item)';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.date_key IS 'the UTC day (dim_date)';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.sku IS 'the product''s SKU';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.product_id IS 'the product (dim_products)';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.warehouse_id IS 'the warehouse (dim_warehouse)';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.product_name IS 'the product''s name';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.opening_stock IS 'the latest count at or before the day''s 00:00';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.quantity_sold IS 'units sold during the day';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.quantity_received IS 'units received during the day';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.expected_closing_stock IS 'opening_stock + quantity_received - quantity_sold';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.actual_closing_stock IS 'the latest count at or before the day''s close';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.discrepancy_amount IS 'actual - expected closing stock: minus the units lost (shrinkage)';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.discrepancy_value IS 'discrepancy_amount x cost_price';
COMMENT ON COLUMN analytics.fact_inventory_reconciliation.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.sales_daily_by_warehouse (
    date_key date NOT NULL,
    warehouse_id integer NOT NULL,
    units bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    transactions bigint NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (date_key, warehouse_id)
);
CREATE INDEX IF NOT EXISTS sales_daily_by_warehouse_warehouse_id_date_key_idx ON analytics.sales_daily_by_warehouse (warehouse_id, date_key);
COMMENT ON TABLE analytics.sales_daily_by_warehouse IS 'one row per day x warehouse with a sale';
COMMENT ON COLUMN analytics.sales_daily_by_warehouse.date_key IS 'the UTC day (dim_date)';
COMMENT ON COLUMN analytics.sales_daily_by_warehouse.warehouse_id IS 'the warehouse (dim_warehouse)';
COMMENT ON COLUMN analytics.sales_daily_by_warehouse.units IS 'units sold';
COMMENT ON COLUMN analytics.sales_daily_by_warehouse.revenue IS 'revenue';
COMMENT ON COLUMN analytics.sales_daily_by_warehouse.transactions IS 'sale lines';
COMMENT ON COLUMN analytics.sales_daily_by_warehouse.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.sales_daily (
    date_key date NOT NULL,
    units bigint NOT NULL,
    revenue numeric(18,2) NOT NULL,
    transactions bigint NOT NULL,
    is_complete_day boolean NOT NULL,
    revenue_growth_pct numeric(18,2),
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (date_key)
);
COMMENT ON TABLE analytics.sales_daily IS 'one row per day with a sale';
COMMENT ON COLUMN analytics.sales_daily.date_key IS 'the UTC day (dim_date)';
COMMENT ON COLUMN analytics.sales_daily.units IS 'units sold';
COMMENT ON COLUMN analytics.sales_daily.revenue IS 'revenue';
COMMENT ON COLUMN analytics.sales_daily.transactions IS 'sale lines';
COMMENT ON COLUMN analytics.sales_daily.is_complete_day IS 'the day ended at or before as_of (false for the day under way)';
COMMENT ON COLUMN analytics.sales_daily.revenue_growth_pct IS 'day-on-day revenue growth, complete days only';
COMMENT ON COLUMN analytics.sales_daily.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.kpi_inventory_summary (
    total_units bigint NOT NULL,
    unique_products bigint NOT NULL,
    stock_value numeric(18,2) NOT NULL,
    inventory_turnover numeric(12,4),
    weighted_aging_days numeric(12,2),
    aging_units bigint NOT NULL,
    aging_value numeric(18,2) NOT NULL,
    avg_price_aging_stock numeric(18,2),
    overstock_products bigint NOT NULL,
    low_stock_products bigint NOT NULL,
    avg_daily_demand numeric(18,4) NOT NULL,
    refreshed_at timestamp with time zone NOT NULL
);
COMMENT ON TABLE analytics.kpi_inventory_summary IS 'one row';
COMMENT ON COLUMN analytics.kpi_inventory_summary.total_units IS 'units on hand';
COMMENT ON COLUMN analytics.kpi_inventory_summary.unique_products IS 'distinct products with a count';
COMMENT ON COLUMN analytics.kpi_inventory_summary.stock_value IS 'value on hand at cost';
COMMENT ON COLUMN analytics.kpi_inventory_summary.inventory_turnover IS 'sum of cogs / sum of avg_inventory_value';
COMMENT ON COLUMN analytics.kpi_inventory_summary.weighted_aging_days IS 'quantity-weighted age of stock in days';
COMMENT ON COLUMN analytics.kpi_inventory_summary.aging_units IS 'units older than the aging threshold';
COMMENT ON COLUMN analytics.kpi_inventory_summary.aging_value IS 'their value at cost';
COMMENT ON COLUMN analytics.kpi_inventory_summary.avg_price_aging_stock IS 'aging_value / aging_units';
COMMENT ON COLUMN analytics.kpi_inventory_summary.overstock_products IS 'product_inventory_metrics rows with is_overstock';
COMMENT ON COLUMN analytics.kpi_inventory_summary.low_stock_products IS 'low_stock_data rows';
COMMENT ON COLUMN analytics.kpi_inventory_summary.avg_daily_demand IS 'sum of product_inventory_metrics.avg_daily_demand';
COMMENT ON COLUMN analytics.kpi_inventory_summary.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.kpi_sales_summary (
    wtd_revenue numeric(18,2) NOT NULL,
    wtd_units bigint NOT NULL,
    avg_daily_sales numeric(18,2) NOT NULL,
    total_revenue numeric(18,2) NOT NULL,
    total_units bigint NOT NULL,
    dod_day date NOT NULL,
    dod_revenue numeric(18,2) NOT NULL,
    dod_previous_revenue numeric(18,2) NOT NULL,
    dod_growth_pct numeric(18,2),
    refreshed_at timestamp with time zone NOT NULL
);
COMMENT ON TABLE analytics.kpi_sales_summary IS 'one row';
COMMENT ON COLUMN analytics.kpi_sales_summary.wtd_revenue IS 'week to date revenue (ISO week through today so far)';
COMMENT ON COLUMN analytics.kpi_sales_summary.wtd_units IS 'week to date units';
COMMENT ON COLUMN analytics.kpi_sales_summary.avg_daily_sales IS 'total_revenue / period_days';
COMMENT ON COLUMN analytics.kpi_sales_summary.total_revenue IS 'revenue of the period_days days ending today';
COMMENT ON COLUMN analytics.kpi_sales_summary.total_units IS 'units of those days';
COMMENT ON COLUMN analytics.kpi_sales_summary.dod_day IS 'the last complete day, which day-on-day growth is about';
COMMENT ON COLUMN analytics.kpi_sales_summary.dod_revenue IS 'revenue on dod_day';
COMMENT ON COLUMN analytics.kpi_sales_summary.dod_previous_revenue IS 'revenue on the day before dod_day';
COMMENT ON COLUMN analytics.kpi_sales_summary.dod_growth_pct IS 'day-on-day growth of two complete days';
COMMENT ON COLUMN analytics.kpi_sales_summary.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.dim_products (
    product_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    category text NOT NULL,
    brand text,
    unit text NOT NULL,
    cost_price numeric(12,2) NOT NULL,
    selling_price numeric(12,2) NOT NULL,
    lead_time integer NOT NULL,
    price_band text NOT NULL,
    price_band_order integer NOT NULL,
    primary_supplier_id integer,
    consumption_value numeric(18,2) NOT NULL,
    abc_class text NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (product_id)
);
COMMENT ON TABLE analytics.dim_products IS 'one row per product';
COMMENT ON COLUMN analytics.dim_products.product_id IS 'the product (dim_products)';
COMMENT ON COLUMN analytics.dim_products.sku IS 'the product''s SKU';
COMMENT ON COLUMN analytics.dim_products.product_name IS 'the product''s name';
COMMENT ON COLUMN analytics.dim_products.category IS 'the product''s category';
COMMENT ON COLUMN analytics.dim_products.brand IS 'the product''s brand';
COMMENT ON COLUMN analytics.dim_products.unit IS 'the unit it is sold in (pcs, kg, ltr)';
COMMENT ON COLUMN analytics.dim_products.cost_price IS 'unit cost';
COMMENT ON COLUMN analytics.dim_products.selling_price IS 'unit selling price';
COMMENT ON COLUMN analytics.dim_products.lead_time IS 'days from order to receipt';
COMMENT ON COLUMN analytics.dim_products.price_band IS 'a fixed band of selling_price';
COMMENT ON COLUMN analytics.dim_products.price_band_order IS 'the band''s order, 1 to 5';
COMMENT ON COLUMN analytics.dim_products.primary_supplier_id IS 'the primary supplier (dim_supplier)';
COMMENT ON COLUMN analytics.dim_products.consumption_value IS 'units sold in the demand window x cost_price';
COMMENT ON COLUMN analytics.dim_products.abc_class IS 'A, B or C by share of consumption value over all products';
COMMENT ON COLUMN analytics.dim_products.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.dim_date (
    date_key date NOT NULL,
    year integer NOT NULL,
    quarter integer NOT NULL,
    month integer NOT NULL,
    month_name text NOT NULL,
    day_of_month integer NOT NULL,
    iso_year integer NOT NULL,
    iso_week integer NOT NULL,
    iso_day_of_week integer NOT NULL,
    day_name text NOT NULL,
    is_weekend boolean NOT NULL,
    week_start date NOT NULL,
    is_week_to_date boolean NOT NULL,
    is_month_to_date boolean NOT NULL,
    is_complete_day boolean NOT NULL,
    days_ago integer NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (date_key)
);
COMMENT ON TABLE analytics.dim_date IS 'one row per UTC day from the first day in the data through as_of''s date';
COMMENT ON COLUMN analytics.dim_date.date_key IS 'the UTC day (dim_date)';
COMMENT ON COLUMN analytics.dim_date.year IS 'calendar year';
COMMENT ON COLUMN analytics.dim_date.quarter IS 'calendar quarter';
COMMENT ON COLUMN analytics.dim_date.month IS 'calendar month';
COMMENT ON COLUMN analytics.dim_date.month_name IS 'English month name';
COMMENT ON COLUMN analytics.dim_date.day_of_month IS 'day of the month';
COMMENT ON COLUMN analytics.dim_date.iso_year IS 'ISO 8601 year (the year of the week''s Thursday)';
COMMENT ON COLUMN analytics.dim_date.iso_week IS 'ISO 8601 week';
COMMENT ON COLUMN analytics.dim_date.iso_day_of_week IS 'Monday 1 to Sunday 7';
COMMENT ON COLUMN analytics.dim_date.day_name IS 'English day name';
COMMENT ON COLUMN analytics.dim_date.is_weekend IS 'Saturday or Sunday';
COMMENT ON COLUMN analytics.dim_date.week_start IS 'the Monday of the day''s ISO week';
COMMENT ON COLUMN analytics.dim_date.is_week_to_date IS 'in today''s ISO week, through today';
COMMENT ON COLUMN analytics.dim_date.is_month_to_date IS 'in today''s month, through today';
COMMENT ON COLUMN analytics.dim_date.is_complete_day IS 'the day ended at or before as_of';
COMMENT ON COLUMN analytics.dim_date.days_ago IS 'as_of''s date minus date_key';
COMMENT ON COLUMN analytics.dim_date.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.dim_location (
    location_id integer NOT NULL,
    location_name text NOT NULL,
    city text NOT NULL,
    state text,
    country text NOT NULL,
    region text NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (location_id)
);
COMMENT ON TABLE analytics.dim_location IS 'one row per location';
COMMENT ON COLUMN analytics.dim_location.location_id IS 'the location';
COMMENT ON COLUMN analytics.dim_location.location_name IS 'the location''s name';
COMMENT ON COLUMN analytics.dim_location.city IS 'the location''s city';
COMMENT ON COLUMN analytics.dim_location.state IS 'the location''s state or province';
COMMENT ON COLUMN analytics.dim_location.country IS 'the location''s country';
COMMENT ON COLUMN analytics.dim_location.region IS 'US census region of the state (US Other for other codes), elsewhere the country';
COMMENT ON COLUMN analytics.dim_location.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.dim_warehouse (
    warehouse_id integer NOT NULL,
    warehouse_name text NOT NULL,
    capacity integer NOT NULL,
    location_id integer NOT NULL,
    location_name text NOT NULL,
    city text NOT NULL,
    state text,
    country text NOT NULL,
    region text NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (warehouse_id)
);
COMMENT ON TABLE analytics.dim_warehouse IS 'one row per warehouse';
COMMENT ON COLUMN analytics.dim_warehouse.warehouse_id IS 'the warehouse (dim_warehouse)';
COMMENT ON COLUMN analytics.dim_warehouse.warehouse_name IS 'the warehouse''s name';
COMMENT ON COLUMN analytics.dim_warehouse.capacity IS 'the warehouse''s capacity in units';
COMMENT ON COLUMN analytics.dim_warehouse.location_id IS 'the warehouse''s location (dim_location)';
COMMENT ON COLUMN analytics.dim_warehouse.location_name IS 'the location''s name';
COMMENT ON COLUMN analytics.dim_warehouse.city IS 'the location''s city';
COMMENT ON COLUMN analytics.dim_warehouse.state IS 'the location''s state or province';
COMMENT ON COLUMN analytics.dim_warehouse.country IS 'the location''s country';
COMMENT ON COLUMN analytics.dim_warehouse.region IS 'US census region of the state (US Other for other codes), elsewhere the country';
COMMENT ON COLUMN analytics.dim_warehouse.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.dim_supplier (
    supplier_id integer NOT NULL,
    supplier_name text NOT NULL,
    country text,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (supplier_id)
);
COMMENT ON TABLE analytics.dim_supplier IS 'one row per supplier (contact details stay out of BI)';
COMMENT ON COLUMN analytics.dim_supplier.supplier_id IS 'the supplier';
COMMENT ON COLUMN analytics.dim_supplier.supplier_name IS 'the supplier''s name';
COMMENT ON COLUMN analytics.dim_supplier.country IS 'the supplier''s country';
COMMENT ON COLUMN analytics.dim_supplier.refreshed_at IS 'when the row was last published';

CREATE TABLE IF NOT EXISTS analytics.dim_stock_item (
    pair_key bigint NOT NULL,
    product_id integer NOT NULL,
    warehouse_id integer NOT NULL,
    sku text NOT NULL,
    product_name text NOT NULL,
    warehouse_name text NOT NULL,
    location_name text NOT NULL,
    refreshed_at timestamp with time zone NOT NULL,
    PRIMARY KEY (pair_key)
);
CREATE INDEX IF NOT EXISTS dim_stock_item_product_id_idx ON analytics.dim_stock_item (product_id);
CREATE INDEX IF NOT EXISTS dim_stock_item_warehouse_id_idx ON analytics.dim_stock_item (warehouse_id);
COMMENT ON TABLE analytics.dim_stock_item IS 'one row per pair of the catalogue (every product x every warehouse)';
COMMENT ON COLUMN analytics.dim_stock_item.pair_key IS 'the pair''s single-column key, product_id x 100000 + warehouse_id (dim_stock_item)';
COMMENT ON COLUMN analytics.dim_stock_item.product_id IS 'the product (dim_products)';
COMMENT ON COLUMN analytics.dim_stock_item.warehouse_id IS 'the warehouse (dim_warehouse)';
COMMENT ON COLUMN analytics.dim_stock_item.sku IS 'the product''s SKU';
COMMENT ON COLUMN analytics.dim_stock_item.product_name IS 'the product''s name';
COMMENT ON COLUMN analytics.dim_stock_item.warehouse_name IS 'the warehouse''s name';
COMMENT ON COLUMN analytics.dim_stock_item.location_name IS 'the location''s name';
COMMENT ON COLUMN analytics.dim_stock_item.refreshed_at IS 'when the row was last published';
