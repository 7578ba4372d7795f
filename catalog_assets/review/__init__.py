"""A branch against production: what changes, what a preview runs, and the review report."""
