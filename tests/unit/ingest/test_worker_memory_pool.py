"""A pseudonymise worker's Arrow pool keeps freed memory for its next batch."""

from __future__ import annotations

import subprocess
import sys


def _in_fresh_interpreter(code: str) -> str:
    """What `code` prints in a fresh interpreter, as a worker starts."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()


def test_a_worker_allocates_through_jemalloc_where_the_wheel_has_it():
    default = _in_fresh_interpreter("import pyarrow as pa; print(pa.default_memory_pool().backend_name)")
    has_jemalloc = _in_fresh_interpreter(
        "import pyarrow as pa\n"
        "try:\n    pa.jemalloc_memory_pool(); print(True)\nexcept NotImplementedError:\n    print(False)"
    )
    worker = _in_fresh_interpreter("from ingest.pseudonymise import keep_freed_memory; print(keep_freed_memory())")
    assert worker == ("jemalloc" if has_jemalloc == "True" else default)
    if sys.platform.startswith("linux"):  # Linux wheels have it, and the default is another (mimalloc)
        assert worker == "jemalloc" != default
