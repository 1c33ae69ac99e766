-- expected = opening + received - sold and discrepancy = actual - expected on every row (violations).
SELECT count(*) FROM staging.fact_inventory_reconciliation
WHERE expected_closing_stock <> opening_stock + quantity_received - quantity_sold
   OR discrepancy_amount <> actual_closing_stock - expected_closing_stock;
