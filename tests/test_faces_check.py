"""The local face check on the tests' intake corpus (tests/support/face_corpus.py).

The figures are the README's ("Face check"): the known misses are listed here so a change of
detector or settings that loses a face, or finds one where there is none, fails a test.
"""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.core.request.face_check import FaceCheck, detect_faces, load_models
from bot.core.request.selfie import prepare_selfie
from tests.support.face_corpus import Case, cases

# Measured with opencv-python-headless 4.14.0.94 (alt2 cascade, 640 px, step 1.15, 3 neighbours,
# faces of 1/8 of the short side first, then down to 1/25).
KNOWN_MISSES = {
    "hopper tilted 30°",
    "hopper sideways, no EXIF",
    "hopper upside down, no EXIF",
    "astronaut face 1/24 of width",
    "astronaut face 1/32 of width",
}


def checked(case: Case) -> FaceCheck:
    return detect_faces(prepare_selfie(case.data).data)


def right(case: Case, check: FaceCheck) -> bool:
    if case.expected == "none":
        return check.count == 0
    if case.expected == "several":
        return check.count >= 2
    return check.count >= 1


@pytest.fixture(scope="module")
def results() -> dict[str, tuple[Case, FaceCheck]]:
    load_models()
    return {case.name: (case, checked(case)) for case in cases()}


def test_the_corpus_misses_only_the_known_cases(results) -> None:
    misses = {name for name, (case, check) in results.items() if not right(case, check)}
    assert misses <= KNOWN_MISSES, f"new misses: {sorted(misses - KNOWN_MISSES)}"
    # A known miss now found is good news: record it (and the README's figure).
    assert misses == KNOWN_MISSES, f"now found: {sorted(KNOWN_MISSES - misses)}"


def test_no_face_is_found_where_there_is_none(results) -> None:
    for case, check in results.values():
        if case.expected == "none":
            assert check.count == 0 and check.largest is None and not check.found, case.name


def test_a_photo_turned_by_exif_is_checked_upright(results) -> None:
    for orientation in (3, 6, 8):
        case, check = results[f"hopper EXIF {orientation}"]
        assert check.count == 1, case.name
        upright = results["hopper"][1]
        assert check.largest is not None and upright.largest is not None
        assert abs(check.largest.left - upright.largest.left) < 10
        assert abs(check.largest.top - upright.largest.top) < 10
    assert results["astronaut"][1].count == 1  # the real sideways-stored photo (orientation 6)


def test_several_faces_and_the_largest_one(results) -> None:
    # Left: the astronaut, full size (face ~98 px); right: Hopper at 2/3 (face ~150 px).
    _, check = results["astronaut and hopper"]
    assert check.several and check.count == 2
    assert check.largest is not None and check.largest.left > check.size[0] // 2
    assert 120 < check.largest.width < 190
    _, check = results["hopper and astronaut"]
    assert check.several and check.largest is not None
    assert check.largest.left < check.size[0] // 2 and check.largest.width > 180


def test_boxes_are_in_the_prepared_image_pixels(results) -> None:
    _, small = results["hopper"]  # 512×600: checked at full size
    _, big = results["astronaut upscaled 4x"]
    assert small.size == (512, 600) and big.size[0] > 1000
    assert small.largest is not None and 200 < small.largest.width < 260
    assert big.largest is not None and big.largest.width > 250  # scaled back from 640 px


def test_bytes_and_an_image_give_the_same_answer() -> None:
    hopper = next(case for case in cases() if case.name == "hopper")
    prepared = prepare_selfie(hopper.data).data
    with Image.open(io.BytesIO(prepared)) as image:
        image.load()
        assert detect_faces(image) == detect_faces(prepared)


def test_not_an_image_raises() -> None:
    with pytest.raises(OSError):
        detect_faces(b"definitely not a jpeg")
