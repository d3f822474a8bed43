"""Coverage-guided fuzzing of the agent's appspec parser and bundle extractor with atheris (libFuzzer).

Not part of the test run (pytest collects no test here): the hypothesis tests beside it run in CI, and
this finds what they miss when given minutes. It needs `pip install atheris` (a wheel for CPython on
x86-64 Linux) and nothing from the server:

    python tests/hostile/fuzz_atheris.py appspec -max_total_time=120
    python tests/hostile/fuzz_atheris.py bundle CORPUS_DIR -max_total_time=120 -max_len=8192

Any exception other than AppSpecError / BundleError stops the run and writes the input to ./crash-*;
turn it into a regular test in test_fuzz_appspec.py or test_fuzz_archive.py before fixing it.
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile

import atheris

with atheris.instrument_imports():
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "agent"))
    from fleetdeck_agent.appspec import AppSpecError, parse_appspec
    from fleetdeck_agent.bundle import BundleError, extract_bundle, inspect_bundle

WORK = tempfile.mkdtemp(prefix="fleetdeck-atheris-")
MAX_SIZE = 1 << 20


def fuzz_appspec(data: bytes) -> None:
    with contextlib.suppress(AppSpecError):
        parse_appspec(data.decode("utf-8", "replace"))


def fuzz_bundle(data: bytes) -> None:
    path = os.path.join(WORK, "bundle.bin")
    with open(path, "wb") as fh:
        fh.write(data)
    with contextlib.suppress(BundleError):
        inspect_bundle(path, max_size=MAX_SIZE)
    with contextlib.suppress(BundleError):
        extract_bundle(path, os.path.join(WORK, "dest"), max_size=MAX_SIZE)


if __name__ == "__main__":
    target = {"appspec": fuzz_appspec, "bundle": fuzz_bundle}[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()
