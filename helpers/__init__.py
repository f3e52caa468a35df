"""The lab's package: one module per notebook topic, plus the offline stand-in for AWS."""
import os

# One BLAS thread: a second one buys nothing at the local model's size, and a fixed thread count keeps
# training bit-reproducible, so the outputs stored in the notebooks stay comparable.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

__version__ = "0.1.0"
