"""The catalog as Dagster definitions: assets, the notebook step, resources, automation."""
