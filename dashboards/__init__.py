"""Report layer: load an MLflow sweep into DataFrames and draw pure figures and tables from them."""
