"""The ```python blocks of docs/PYTHON.md run, in order, in a directory of their own."""

import os
import re

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_python_doc_blocks_run(tmp_path, monkeypatch):
    with open(os.path.join(ROOT, "docs", "PYTHON.md"), encoding="utf-8") as f:
        blocks = re.findall(r"^```python\n(.*?)^```$", f.read(), re.M | re.S)
    assert len(blocks) >= 2
    monkeypatch.chdir(tmp_path)
    for i, block in enumerate(blocks):
        exec(compile(block, f"docs/PYTHON.md, python block {i + 1}", "exec"), {})
