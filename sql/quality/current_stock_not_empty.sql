-- Current stock and the product dimension are never empty (violations).
-- whole: current_stock dim_products
SELECT (SELECT CASE WHEN count(*) = 0 THEN 1 ELSE 0 END FROM staging.current_stock)
     + (SELECT CASE WHEN count(*) = 0 THEN 1 ELSE 0 END FROM staging.dim_products);
