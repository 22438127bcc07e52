"""The inference thread, and the torch threads it starts, run below the event loop's priority."""

from __future__ import annotations

import argparse
import os
import sys
import threading
from pathlib import Path

import pytest
import torch

from predictors.common.cli import nice_increment
from predictors.common.inference_thread import inference_executor

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="per-thread nice values are Linux's")


def thread_nice() -> int:
    return os.getpriority(os.PRIO_PROCESS, 0)  # the calling thread's on Linux


def task_nice_values() -> dict[str, int]:
    """nice of every thread of this process, by thread id (field 19 of /proc/self/task/*/stat)."""
    values = {}
    for task in Path("/proc/self/task").iterdir():
        try:
            fields = (task / "stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):  # a thread that ended since the listing
            continue
        values[task.name] = int(fields[16])
    return values


@linux_only
def test_the_inference_thread_runs_lower_and_the_caller_keeps_its_priority():
    base = thread_nice()
    executor = inference_executor("t-infer", 7)
    try:
        assert executor.submit(thread_nice).result() == min(19, base + 7)
        assert executor.submit(threading.current_thread).result().name.startswith("t-infer")
    finally:
        executor.shutdown()
    assert thread_nice() == base


@linux_only
def test_torch_threads_started_from_the_inference_thread_inherit_its_priority():
    base = thread_nice()
    before = set(task_nice_values())
    executor = inference_executor("t-torch", 10)
    a = torch.randn(256, 256)

    def two_thread_matmuls() -> None:
        previous = torch.get_num_threads()
        torch.set_num_threads(2)  # an intra-op team even on one core; restored for later tests
        try:
            for _ in range(5):
                torch.mm(a, a)
        finally:
            torch.set_num_threads(previous)

    try:
        executor.submit(two_thread_matmuls).result()
        new = {tid: nice for tid, nice in task_nice_values().items() if tid not in before}
    finally:
        executor.shutdown()
    assert len(new) >= 2, f"expected the executor's thread and torch's intra-op thread, got {new}"
    assert set(new.values()) == {min(19, base + 10)}, new


def test_zero_leaves_the_priority_alone():
    executor = inference_executor("t-zero", 0)
    try:
        assert executor.submit(thread_nice).result() == thread_nice()
    finally:
        executor.shutdown()


@pytest.mark.parametrize("value", ["-1", "20", "x"])
def test_the_flag_takes_0_to_19(value):
    with pytest.raises((argparse.ArgumentTypeError, ValueError)):
        nice_increment(value)
