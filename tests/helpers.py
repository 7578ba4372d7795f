"""Objects tests need at module level (so serialisers can name them)."""


class NotSklearn:
    """A type outside the libraries a model file may hold."""
