"""service/inference/batches.py: requests joined into one model call and its result split
back, for a rows model (one array) and a tensor model (a tuple of arrays), and results of the
wrong rows refused."""

from __future__ import annotations

import numpy as np
import pytest

from service.inference.batches import checked, join, rows_of, take


def tensors(rows: int, start: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A tensor model's batch: INT64 [rows, 2] and BYTES [rows]."""
    codes = np.arange(start, start + 2 * rows, dtype=np.int64).reshape(rows, 2)
    words = np.array([f"w{start + i}" for i in range(rows)], dtype=object)
    return codes, words


def test_rows_of_counts_the_first_axis_of_an_array_or_of_a_tuples_first_array() -> None:
    assert rows_of(np.zeros((3, 4), np.float32)) == 3
    assert rows_of(tensors(5)) == 5


def test_joining_arrays_stacks_their_rows_in_order() -> None:
    first, second = np.ones((1, 3), np.float32), np.full((2, 3), 2.0, np.float32)

    joined = join([first, second])

    assert isinstance(joined, np.ndarray)
    assert joined.tolist() == [[1.0] * 3, [2.0] * 3, [2.0] * 3]


def test_joining_tuples_stacks_each_input_separately_keeping_its_dtype() -> None:
    first, second = tensors(1, start=0), tensors(2, start=10)

    codes, words = join([first, second])

    assert codes.dtype == np.int64 and codes.tolist() == [[0, 1], [10, 11], [12, 13]]
    assert words.dtype == object and words.tolist() == ["w0", "w10", "w11"]


def test_take_gives_one_requests_rows_of_an_array() -> None:
    outputs = np.arange(10).reshape(5, 2)

    assert take(outputs, 1, 3).tolist() == [[2, 3], [4, 5]]


def test_take_gives_one_requests_rows_of_every_output_of_a_tuple() -> None:
    codes, words = take(tensors(4), 2, 4)

    assert codes.tolist() == [[4, 5], [6, 7]]
    assert words.tolist() == ["w2", "w3"]


def test_join_then_take_gives_each_request_back_its_own_rows() -> None:
    requests = [tensors(1, start=0), tensors(3, start=100), tensors(2, start=200)]
    joined = join(requests)

    parts = [take(joined, 0, 1), take(joined, 1, 4), take(joined, 4, 6)]

    for got, sent in zip(parts, requests, strict=True):
        assert [a.tolist() for a in got] == [a.tolist() for a in sent]


def test_checked_passes_an_array_of_the_right_rows_through() -> None:
    outputs = np.zeros((3, 2), np.float32)

    assert checked(outputs, 3) is outputs


def test_checked_turns_a_tuple_of_lists_into_arrays() -> None:
    result = checked(([[1.0], [2.0]], [7, 8]), 2)

    assert isinstance(result, tuple) and all(isinstance(a, np.ndarray) for a in result)
    assert [a.tolist() for a in result] == [[[1.0], [2.0]], [7, 8]]


@pytest.mark.parametrize(
    ("outputs", "words"),
    [
        (np.zeros((2, 4)), "model returned (2,) rows for 3"),
        (np.float32(1.0), "model returned () rows for 3"),
    ],
    ids=["wrong-rows", "0-d"],
)
def test_checked_refuses_an_array_without_one_row_per_row(outputs: object, words: str) -> None:
    with pytest.raises(RuntimeError) as refused:
        checked(outputs, 3)

    assert str(refused.value) == words


@pytest.mark.parametrize(
    ("outputs", "words"),
    [
        ((np.zeros((3, 2)), np.zeros(4)), "model returned outputs of [(4,)] rows for 3"),
        ((np.zeros((3, 2)), np.int64(7)), "model returned outputs of [()] rows for 3"),
        ((np.zeros(1), np.zeros(2)), "model returned outputs of [(1,), (2,)] rows for 3"),
    ],
    ids=["one-wrong", "one-0-d", "all-wrong"],
)
def test_checked_refuses_a_tuple_naming_each_output_without_one_row_per_row(
    outputs: tuple[object, ...], words: str
) -> None:
    with pytest.raises(RuntimeError) as refused:
        checked(outputs, 3)

    assert str(refused.value) == words
