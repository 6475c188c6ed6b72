"""Where findings are kept: Parquet part files and the DuckDB catalog of views over them."""
