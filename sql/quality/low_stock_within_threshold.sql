-- Every low-stock row is at or under the threshold, and every pair at or under it is listed (violations).
SELECT (SELECT count(*) FROM staging.low_stock_data WHERE quantity > %(threshold)s)
     + (SELECT count(*) FROM staging.current_stock c WHERE c.quantity <= %(threshold)s
        AND NOT EXISTS (SELECT 1 FROM staging.low_stock_data l
                        WHERE l.product_id = c.product_id AND l.warehouse_id = c.warehouse_id));
