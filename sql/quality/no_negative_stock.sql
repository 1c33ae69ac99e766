-- No negative stock anywhere (violations).
SELECT (SELECT count(*) FROM staging.current_stock WHERE quantity < 0)
     + (SELECT count(*) FROM staging.inventory_aging WHERE units < 0)
     + (SELECT count(*) FROM staging.fact_inventory_reconciliation WHERE opening_stock < 0 OR actual_closing_stock < 0);
