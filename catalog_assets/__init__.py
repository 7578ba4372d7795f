"""catalog_assets: the notebook catalog as Dagster software-defined assets."""
