-- Destructive: removes every layer of the warehouse. Run only by refresh_inventory_tables_dag with confirm=true.
-- portal first: its accounts reference raw master data (locations, inventory managers).
DROP SCHEMA IF EXISTS portal CASCADE;
DROP SCHEMA IF EXISTS alerts CASCADE;
DROP SCHEMA IF EXISTS analytics CASCADE;
DROP SCHEMA IF EXISTS staging CASCADE;
DROP SCHEMA IF EXISTS sim CASCADE;
DROP SCHEMA IF EXISTS raw CASCADE;
