"""The console entry point keeps freed megabyte blocks for reuse (glibc), and only it does."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux") or os.confstr("CS_GNU_LIBC_VERSION") is None,
    reason="glibc only",
)

# After ``setup``: 10 times, makes 8 blocks of 6 MB (query_range bodies, as many as a fetch
# holds) and frees them; prints the page faults the loop took.
_FAULTS = """
import resource, sys
{setup}
data = bytes(range(256)) * (6_000_000 // 256)
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    copies = [bytes(memoryview(data)[i:]) for i in range(8)]
    del copies
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""
_PAGES = 8 * 6_000_000 // 4096  # faults of one round of fresh blocks


def _faults(setup: str, **env: str) -> int:
    clean = {k: v for k, v in os.environ.items() if k != "GLIBC_TUNABLES" and not k.startswith("MALLOC_")}
    done = subprocess.run(
        [sys.executable, "-c", _FAULTS.format(setup=setup)],
        env={**clean, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.split()[-1])


def test_untuned_glibc_faults_in_every_copy() -> None:
    # the baseline the module exists for: each freed block went back to the kernel
    assert _faults("") > 5 * _PAGES


def test_keep_freed_memory_reuses_the_blocks() -> None:
    setup = "from ocq_batch.malloc import keep_freed_memory\nassert keep_freed_memory()"
    assert _faults(setup) < 2 * _PAGES


def test_console_entry_point_sets_it() -> None:
    setup = (
        "from ocq_batch.cli import run\nsys.argv = ['ocq-batch', '--version']\n"
        "try:\n    run()\nexcept SystemExit:\n    pass"
    )
    assert _faults(setup) < 2 * _PAGES


def test_importing_the_package_changes_nothing() -> None:
    # a notebook's process keeps glibc's defaults: only the entry point tunes malloc
    assert _faults("import ocq_batch.cli, ocq_batch.malloc, ocq_batch.http_source") > 5 * _PAGES


def test_user_tunables_win() -> None:
    setup = "from ocq_batch.malloc import keep_freed_memory\nassert not keep_freed_memory()"
    tunables = "glibc.malloc.trim_threshold=0:glibc.malloc.mmap_threshold=131072"
    assert _faults(setup, GLIBC_TUNABLES=tunables) > 5 * _PAGES
    assert _faults(setup, MALLOC_TRIM_THRESHOLD_="0") > 5 * _PAGES
