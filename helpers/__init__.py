"""The lab's package: one module per notebook topic, plus the offline stand-in for AWS."""
import os
import sys

from threadpoolctl import threadpool_limits

# One BLAS thread: a second one buys nothing at the local model's size, and a fixed thread count keeps
# training bit-reproducible, so the outputs stored in the notebooks stay comparable. The variables reach a
# BLAS loaded after this point; threadpool_limits reaches one already loaded (a notebook that imports numpy
# or pandas before helpers), which reads its variable only when it loads. An explicit OPENBLAS_NUM_THREADS
# (a benchmark measuring two threads) is kept.
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
_threads = os.environ["OPENBLAS_NUM_THREADS"]
threadpool_limits(int(_threads) if _threads.isdigit() and int(_threads) > 0 else 1, user_api="blas")

__version__ = "0.1.0"

if "IPython" in sys.modules:  # in a notebook: a cell run out of order says which cell to run first
    from helpers import run_first

    run_first.install()
