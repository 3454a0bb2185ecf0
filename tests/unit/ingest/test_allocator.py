"""ingest.allocator: a pseudonymise worker keeps freed memory for its next batch."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

# In a fresh interpreter, as a worker starts: where a 40 MiB block (a large batch's column) comes
# from, and whether its memory stays in the process once freed. glibc's mallinfo2 tells.
PROBE = textwrap.dedent("""
    import ctypes, json, sys
    import numpy as np
    import pyarrow as pa
    from ingest.allocator import keep_freed_memory

    class MallInfo2(ctypes.Structure):
        _fields_ = [(name, ctypes.c_size_t) for name in
                    ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks",
                     "fsmblks", "uordblks", "fordblks", "keepcost")]
    libc = ctypes.CDLL(None)
    libc.mallinfo2.restype = MallInfo2

    def block(make):
        before = libc.mallinfo2()
        held = make()
        during = libc.mallinfo2()
        del held
        return {"mapped": during.hblkhd - before.hblkhd, "from_heap": during.uordblks - before.uordblks,
                "kept_once_freed": libc.mallinfo2().fordblks}

    size = 40 * 2**20
    figures = {"numpy_before": block(lambda: np.ones(size // 8))}
    figures["glibc_took_settings"] = keep_freed_memory()
    figures["arrow_pool"] = pa.default_memory_pool().backend_name
    figures["numpy_after"] = block(lambda: np.ones(size // 8))
    figures["arrow_after"] = block(lambda: pa.allocate_buffer(size))
    json.dump(figures, sys.stdout)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's mallinfo2 is the probe")
def test_freed_blocks_stay_in_the_process_for_reuse():
    done = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True)
    figures = json.loads(done.stdout)
    size = 40 * 2**20
    # By default glibc maps a block this large afresh and unmaps it when freed.
    assert figures["numpy_before"]["mapped"] >= size
    assert figures["numpy_before"]["from_heap"] < size
    assert figures["numpy_before"]["kept_once_freed"] < size
    assert figures["glibc_took_settings"] is True
    # Then numpy's and Arrow's blocks come from the heap, and stay there for the next batch.
    assert figures["arrow_pool"] == "system"
    for after in ("numpy_after", "arrow_after"):
        assert figures[after]["mapped"] < size, after
        assert figures[after]["from_heap"] >= size, after
        assert figures[after]["kept_once_freed"] >= size, after
