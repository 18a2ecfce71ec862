"""The ClickHouse warehouse: connection, schema, loads, rollups and serving generations."""
