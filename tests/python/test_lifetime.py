"""Arrays keep the mapping alive; a closed store refuses every call; nothing crashes, from any thread."""

import gc
import os
import threading

import numpy as np
import pytest

import embstore


def mapped(path):
    """Whether this process maps the file at `path` (from /proc/self/maps)."""
    ino = os.stat(path).st_ino
    with open("/proc/self/maps") as f:
        return any(len(line.split()) >= 6 and int(line.split()[4]) == ino and line.split()[5].endswith(os.path.basename(path))
                   for line in f)


def test_arrays_outlive_close_and_unmap_with_the_last_one(store_path, weights):
    s = embstore.open(store_path)
    a = s["f32"].array()
    h = s["f16"].array()[10:20]  # a view of a view
    s.close()
    gc.collect()
    assert mapped(store_path)
    np.testing.assert_array_equal(a, weights)  # reads the pages after close: would crash if unmapped
    del a
    gc.collect()
    assert mapped(store_path)  # h still holds it
    np.testing.assert_array_equal(h, weights[10:20].astype(np.float16))
    del h
    gc.collect()
    assert not mapped(store_path)


def test_close_without_arrays_unmaps_at_once(store_path):
    s = embstore.open(store_path)
    s["f32"].lookup([1])
    assert mapped(store_path)
    s.close()
    assert not mapped(store_path)


def test_arrays_outlive_a_collected_store(store_path, weights):
    a = embstore.open(store_path)["f32"].array()
    gc.collect()
    np.testing.assert_array_equal(a, weights)
    t = embstore.Store(store_path)["int8"]  # a table keeps its store
    gc.collect()
    assert t.lookup([0]).shape == (1, 24)
    del a, t
    gc.collect()
    assert not mapped(store_path)


def test_closed_store_refuses_everything(store_path):
    s = embstore.open(store_path, writable=True)
    t, v = s["f32"], s["voc"]
    s.close()
    s.close()  # twice is fine
    calls = [lambda: s.tables, lambda: s.metadata, lambda: s["f32"], lambda: s.sync(), lambda: s.verify(),
             lambda: len(s), lambda: t.array(), lambda: t.lookup([1]), lambda: t.bag([[1]]),
             lambda: t.scatter_add([1], np.zeros((1, 24), np.float32)), lambda: t.mark_rows(0),
             lambda: v.find("w1"), lambda: v.key(1), lambda: v.lookup_keys(["w1"])]
    for call in calls:
        with pytest.raises(embstore.ClosedError, match="closed"):
            call()
    assert s.closed and "closed" in repr(s)


def test_writer_lock_is_held_until_the_last_array_goes(tmp_path, weights):
    p = tmp_path / "w.emb"
    embstore.build(p, {"w": weights})
    s = embstore.open(p, writable=True)
    a = s["w"].array()
    s.close()
    with pytest.raises(embstore.Error) as e:
        embstore.open(p, writable=True)
    assert e.value.status == "LOCKED"
    a[0, 0] = 1.0  # still mapped, still writable
    del a
    gc.collect()
    embstore.open(p, writable=True).close()


def test_threads_use_views_and_tables_while_another_closes(store_path, weights):
    ids = np.arange(300, dtype=np.int64)
    errors = []
    for _ in range(20):
        s = embstore.open(store_path)
        tables = [s[d] for d in s.tables]
        start = threading.Barrier(5)

        def worker(t):
            start.wait()
            try:
                a = t.array()
            except embstore.ClosedError:
                a = None
            for _ in range(200):
                try:
                    t.lookup(ids[:50])
                    t.bag(ids.reshape(30, 10))
                except embstore.ClosedError:
                    pass
                if a is not None and t.dtype == "f32" and not np.array_equal(a, weights):
                    errors.append("array changed")

        threads = [threading.Thread(target=worker, args=(tables[i],)) for i in range(4)]
        for th in threads:
            th.start()
        start.wait()
        s.close()
        for th in threads:
            th.join()
        assert not errors
    del s, tables, threads
    gc.collect()
    assert not mapped(store_path)


def test_interpreter_exit_with_a_thread_still_reading(store_path):
    """A daemon thread gathering while the interpreter exits: the mapping must not go first."""
    import subprocess
    import sys
    code = ("import sys, threading, embstore, numpy as np\n"
            "t = embstore.open(sys.argv[1])['f32']\n"
            "a = t.array()\n"
            "ids = np.arange(300)\n"
            "def spin():\n"
            "    while True:\n"
            "        t.lookup(ids); float(a.sum())\n"
            "threading.Thread(target=spin, daemon=True).start()\n"
            "print('exiting')\n")
    for _ in range(5):
        r = subprocess.run([sys.executable, "-c", code, str(store_path)], capture_output=True, text=True)
        assert r.returncode == 0 and r.stdout == "exiting\n", (r.returncode, r.stderr)
