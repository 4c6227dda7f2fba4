"""Dataset-examples tests: one torch thread (small batches are dominated by thread hand-offs on a busy 2-core box),
Models come from the session fixtures in tests/conftest.py."""

from __future__ import annotations


import pytest

from featurelens.data import fashion_mnist


@pytest.fixture(autouse=True)
def one_thread(one_torch_thread):
    yield


@pytest.fixture
def fashion_data() -> None:
    if not fashion_mnist.dataset_dir().is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist")




