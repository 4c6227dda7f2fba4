"""run_ahead: a generator made ahead in a thread gives the same items in order, its errors, and stops with its consumer."""

import threading

import pytest

from featurelens.dataset_examples.ahead import run_ahead


def test_items_come_in_order_and_are_made_while_the_consumer_works() -> None:
    made_third = threading.Event()

    def items():
        for number in range(5):
            if number == 2:
                made_third.set()
            yield number

    seen = []
    for item in run_ahead(items(), depth=1):
        if item == 0:  # the thread goes on while the consumer holds item 0: item 1 is queued, item 2 being made
            assert made_third.wait(timeout=30)
        seen.append(item)
    assert seen == [0, 1, 2, 3, 4]


def test_an_error_in_the_thread_is_raised_to_the_consumer_after_the_items_before_it() -> None:
    def items():
        yield 1
        raise ValueError("file 2 is broken")

    seen = []
    with pytest.raises(ValueError, match="file 2 is broken"):
        for item in run_ahead(items()):
            seen.append(item)
    assert seen == [1]


def test_a_consumer_that_stops_early_stops_the_thread_and_closes_the_generator() -> None:
    closed = threading.Event()

    def items():
        try:
            number = 0
            while True:
                yield number
                number += 1
        finally:
            closed.set()

    before = threading.active_count()
    for item in run_ahead(items()):
        if item == 3:
            break
    assert closed.is_set()
    assert threading.active_count() == before
