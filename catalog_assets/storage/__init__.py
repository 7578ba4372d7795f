"""Where bytes go and in which format: backends (local, S3), the store, formats. No Dagster."""
