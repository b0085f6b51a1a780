"""One thread pool for CPU-side work inside explanations (inpainting masks, building images).

OpenCV and numpy release the GIL in their kernels, so threads use every core without the
cost of processes; one shared pool avoids starting threads per explanation.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

_pool: ThreadPoolExecutor | None = None


def worker_count() -> int:
    return max(1, os.cpu_count() or 1)


def pool() -> ThreadPoolExecutor:
    global _pool
    if _pool is None:
        _pool = ThreadPoolExecutor(max_workers=worker_count(), thread_name_prefix="explain")
    return _pool
