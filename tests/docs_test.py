#!/usr/bin/python3
"""docs_test.py: the code shown in README.md and docs/*.md must be true.

Usage: /usr/bin/python3 tests/docs_test.py PATH/TO/embstore [unittest options]

- Every ```c block starts with the line `/* examples/NAME.c */`, followed by that whole file, or
  `/* examples/NAME.c (excerpt) */`, followed by whole lines of it, contiguous and verbatim. examples/CMakeLists.txt
  compiles those files with the project's warnings as errors and tests/examples_check.py runs them, so a C sample
  cannot drift from code that compiles and works.
- The tours (the ```sh block under "A short tour" in README.md and under "A tour" in docs/CLI.md) run command by
  command, in order, under bash with pipefail, in a directory holding the inputs they name (made from
  examples/sample.npy), with `embstore` on PATH. A command must exit 0, or N when its comment says `exit N`; one
  that exits 0 prints nothing on standard error, one that fails says why; comment lines `#   TEXT` just after a
  command are lines it must print (on either stream).
"""
import glob
import os
import re
import subprocess
import sys
import tempfile
import unittest

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BIN = None
FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.M | re.S)
MARKER = re.compile(r"/\* (examples/[\w.-]+\.c)( \(excerpt\))? \*/\n")
EXPECTED_STATUS = re.compile(r"#.*\bexit (\d+)\b")
OUTPUT_PREFIX = "#   "


def read(path):
    with open(path, encoding="utf-8") as f:
        return f.read()


def doc_files():
    return [os.path.join(ROOT, "README.md")] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))


def fenced_blocks(text, lang):
    """(1-based line of the opening fence, contents) of every block fenced as ```LANG."""
    return [(text.count("\n", 0, m.start()) + 1, m.group(2)) for m in FENCE.finditer(text) if m.group(1) == lang]


def tour(path, heading):
    """The first ```sh block in the section `## heading` of the file at `path`."""
    text = read(path)
    start = text.index("\n## %s\n" % heading)
    end = text.find("\n## ", start + 1)
    blocks = fenced_blocks(text[start:end if end >= 0 else len(text)], "sh")
    if not blocks:
        raise AssertionError("%s: no ```sh block under '## %s'" % (path, heading))
    return blocks[0][1]


def commands(block):
    """[(command, expected exit status, lines it must print)] of a tour."""
    found = []
    for line in block.splitlines():
        if line.startswith(OUTPUT_PREFIX):
            if not found:
                raise AssertionError("expected output before any command: %r" % line)
            found[-1][2].append(line[len(OUTPUT_PREFIX):])
        elif line.strip() and not line.startswith("#"):
            m = EXPECTED_STATUS.search(line)
            found.append((line, int(m.group(1)) if m else 0, []))
    return found


def make_inputs(work):
    """The input files the tours name, from the sample table (1000 x 16 f32). The byte counts the tours show
    (`verify`'s summary) follow from these shapes."""
    sample = np.load(os.path.join(ROOT, "examples", "sample.npy"))
    os.mkdir(os.path.join(work, "data"))
    np.save(os.path.join(work, "vectors.npy"), sample)
    np.save(os.path.join(work, "data", "words.npy"), sample)
    np.save(os.path.join(work, "data", "items.npy"), np.ascontiguousarray(sample[::2, :8]))
    np.resize(sample, (10000, 64)).astype("<f4").tofile(os.path.join(work, "vectors.f32"))


class CodeBlocks(unittest.TestCase):
    def test_c_blocks_are_verbatim_parts_of_built_examples(self):
        built = read(os.path.join(ROOT, "examples", "CMakeLists.txt"))
        count = 0
        for path in doc_files():
            for line, block in fenced_blocks(read(path), "c"):
                count += 1
                where = "%s:%d" % (os.path.relpath(path, ROOT), line)
                with self.subTest(block=where):
                    m = MARKER.match(block)
                    self.assertIsNotNone(m, "%s: a C block starts with /* examples/NAME.c */ or "
                                            "/* examples/NAME.c (excerpt) */" % where)
                    source = read(os.path.join(ROOT, m.group(1)))
                    body = block[m.end():]
                    if m.group(2):
                        self.assertNotEqual(body, source, "%s: the whole file, not an excerpt" % where)
                        self.assertTrue(body and (source.startswith(body) or "\n" + body in source),
                                        "%s: not whole lines of %s, verbatim and contiguous" % (where, m.group(1)))
                    else:
                        self.assertEqual(body, source, "%s: differs from %s" % (where, m.group(1)))
                    stem = os.path.basename(m.group(1))[:-2]
                    self.assertRegex(built, r"\b%s\b" % re.escape(stem),
                                     "%s: examples/CMakeLists.txt does not build %s" % (where, m.group(1)))
        self.assertGreater(count, 0, "README.md shows C code; finding none means this test is broken")


class Tours(unittest.TestCase):
    def run_tour(self, path, heading):
        steps = commands(tour(path, heading))
        self.assertGreater(len(steps), 3)
        with tempfile.TemporaryDirectory(prefix="embstore-tour-") as top:
            bindir, work = os.path.join(top, "bin"), os.path.join(top, "work")
            os.mkdir(bindir)
            os.mkdir(work)
            os.symlink(BIN, os.path.join(bindir, "embstore"))
            make_inputs(work)
            env = dict(os.environ, PATH=bindir + os.pathsep + os.environ.get("PATH", "/usr/bin:/bin"))
            for command, status, lines in steps:
                with self.subTest(command=command):
                    p = subprocess.run(["bash", "-o", "pipefail", "-c", command], cwd=work, env=env,
                                       stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                       timeout=120)
                    out, err = p.stdout.decode("utf-8", "replace"), p.stderr.decode("utf-8", "replace")
                    self.assertEqual(p.returncode, status, err)
                    printed = (out + err).splitlines()
                    if status == 0:
                        self.assertEqual(err, "")
                    else:
                        self.assertNotEqual(printed, [], "a failure must say why")
                    for line in lines:
                        self.assertIn(line, printed)

    def test_readme_short_tour(self):
        self.run_tour(os.path.join(ROOT, "README.md"), "A short tour")

    def test_cli_tour(self):
        self.run_tour(os.path.join(ROOT, "docs", "CLI.md"), "A tour")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.stderr.write("usage: docs_test.py PATH/TO/embstore [unittest options]\n")
        sys.exit(2)
    BIN = os.path.abspath(sys.argv.pop(1))
    unittest.main(verbosity=1)
