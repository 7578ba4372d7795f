"""What runs inside the notebook kernel: the notebook API and the step<->kernel protocol.

No Dagster imports: a kernel that imports Dagster pays seconds per step.
"""
