"""discolab: discover machine-learning algorithms by program search, a population per compiled JAX call."""

__version__ = "0.1.0"
