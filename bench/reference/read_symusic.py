"""Reads every .mid under the given folders with symusic, --runs times, single-threaded;
prints one line per run in the format of crates/midi/examples/read_corpus.rs."""
import argparse
import pathlib
import time

import symusic

p = argparse.ArgumentParser()
p.add_argument("--runs", type=int, default=5)
p.add_argument("dirs", nargs="+")
a = p.parse_args()
files = sorted(str(f) for d in a.dirs for f in pathlib.Path(d).rglob("*.mid"))
for _ in range(a.runs):
    start = time.perf_counter()
    notes = 0
    for f in files:
        try:
            s = symusic.Score(f)
            notes += s.note_num()
        except Exception:
            pass
    seconds = time.perf_counter() - start
    print(f"files={len(files)} notes={notes} seconds={seconds:.4f} files_per_s={len(files) / seconds:.1f}")
