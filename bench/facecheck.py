"""The face check's figures: hits and misses on the tests' corpus, and the time of intake plus
detection of a 12-megapixel phone photo (``prepare_selfie`` then ``detect_faces``, one thread,
as the bot runs them in ``asyncio.to_thread``). Prints a table; no assertions.

    python -m bench.facecheck            # about 20 s
    python -m bench.facecheck --runs 50
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections import Counter

from bot.core.request.face_check import detect_faces, load_models
from bot.core.request.selfie import prepare_selfie
from tests.support.face_corpus import cases, twelve_megapixel_photo


def corpus() -> None:
    hits: Counter[str] = Counter()
    totals: Counter[str] = Counter()
    misses: list[str] = []
    for case in cases():
        check = detect_faces(prepare_selfie(case.data).data)
        right = {
            "none": check.count == 0,
            "several": check.count >= 2,
            "face": check.count >= 1,
        }[case.expected]
        totals[case.group] += 1
        if right:
            hits[case.group] += 1
        else:
            misses.append(f"{case.group}: {case.name} (found {check.count})")
    print("corpus (expected answer given)")
    for group in totals:
        print(f"  {group:<10} {hits[group]:>2} / {totals[group]}")
    print(f"  {'all':<10} {sum(hits.values()):>2} / {sum(totals.values())}")
    for miss in misses:
        print(f"  miss  {miss}")


def timing(runs: int) -> None:
    print(
        f"12 MP phone photo, 4000x3000 JPEG, orientation 6 (n={runs}, 1 thread; wall time, "
        "and CPU time of the process, which a busy machine inflates less)"
    )
    for label, photo in (
        ("with a face", twelve_megapixel_photo()),
        ("no face", twelve_megapixel_photo(face=False)),
    ):
        intake, detection, both, cpu = [], [], [], []
        prepare_selfie(photo)  # warm-up: codec tables
        for _ in range(runs):
            cpu_started = time.process_time()
            started = time.perf_counter()
            prepared = prepare_selfie(photo)
            middle = time.perf_counter()
            check = detect_faces(prepared.data)
            ended = time.perf_counter()
            cpu.append(time.process_time() - cpu_started)
            intake.append(middle - started)
            detection.append(ended - middle)
            both.append(ended - started)
        print(f"  {label} ({len(photo) / 1e6:.1f} MB, found {check.count})")
        figures = (("intake", intake), ("detection", detection), ("both", both), ("both CPU", cpu))
        for name, values in figures:
            ordered = sorted(values)
            p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
            print(
                f"    {name:<10} median {statistics.median(values) * 1000:6.1f} ms"
                f"   p95 {p95 * 1000:6.1f} ms"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    started = time.perf_counter()
    load_models()
    print(f"model load {(time.perf_counter() - started) * 1000:.0f} ms")
    corpus()
    timing(args.runs)


if __name__ == "__main__":
    main()
