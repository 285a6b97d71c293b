"""The ```python blocks of docs/PYTHON.md run, in order, in a directory of their own (those that import torch
only where torch can be imported; the test is then reported as skipped after running the others)."""

import importlib
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_python_doc_blocks_run(tmp_path, monkeypatch):
    with open(os.path.join(ROOT, "docs", "PYTHON.md"), encoding="utf-8") as f:
        blocks = re.findall(r"^```python\n(.*?)^```$", f.read(), re.M | re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    try:
        importlib.import_module("torch")
        have_torch = True
    except ImportError:
        have_torch = False
    skipped = 0
    for i, block in enumerate(blocks):
        if "import torch" in block and not have_torch:
            skipped += 1
            continue
        exec(compile(block, f"docs/PYTHON.md, python block {i + 1}", "exec"), {})
    if skipped:
        pytest.skip(f"{skipped} block(s) need torch, which cannot be imported")
