"""Unit tests of deploy/build_corpus.py's cleaning, cutting and splitting, on
tiny inline inputs (no downloads). Standard library only.

Run: python3 deploy/build_corpus_test.py   (or bazel test //deploy:build_corpus_test)
"""

import json
import os
import sys
import tempfile
import unittest
import xml.etree.ElementTree as ET

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import build_corpus as bc  # noqa: E402

PROSE = ("The quick brown fox jumps over the lazy dog, and then it runs away into "
         "the forest where nobody can find it again. ")


class NormalizeTest(unittest.TestCase):
    def test_prose_joins_wrapped_lines_and_keeps_paragraphs(self):
        text = "  First line\n   wrapped here.\n\n\n\tSecond\u00a0para\x07graph.  \n"
        self.assertEqual(bc.normalize_prose(text), "First line wrapped here.\n\nSecond paragraph.")

    def test_lines_keep_structure_but_collapse_blank_runs(self):
        text = "def f():\n    return 1   \n\n\n\n\nend\u200b\r\n"
        self.assertEqual(bc.normalize_lines(text), "def f():\n    return 1\n\nend")

    def test_junk_detection(self):
        self.assertFalse(bc.is_junk(PROSE))
        self.assertTrue(bc.is_junk("+--+--+--+\n|  |  |  |\n+--+--+--+ 12 34 56 78 90 ==="))
        self.assertTrue(bc.is_junk("Это русский текст, а не английский, и он должен уйти."))
        self.assertTrue(bc.is_junk("ok"))


class SplitLongTest(unittest.TestCase):
    def test_short_text_is_one_piece(self):
        self.assertEqual(bc.split_long("abc", limit=10), ["abc"])

    def test_pieces_respect_limit_and_keep_all_words(self):
        paragraphs = [f"paragraph {i} " + "word " * (i % 7 + 3) for i in range(40)]
        text = "\n\n".join(p.strip() for p in paragraphs)
        pieces = bc.split_long(text, limit=120)
        self.assertGreater(len(pieces), 1)
        self.assertTrue(all(len(p) <= 120 for p in pieces))
        self.assertEqual(" ".join(pieces).split(), text.split())

    def test_single_huge_paragraph_is_cut_hard(self):
        pieces = bc.split_long("x" * 250, limit=100)
        self.assertEqual([len(p) for p in pieces], [100, 100, 50])


class SplitRuleTest(unittest.TestCase):
    def test_split_is_stable_and_roughly_98_1_1(self):
        keys = [f"doc{i}" for i in range(20000)]
        first = [bc.split_of(k, 7) for k in keys]
        self.assertEqual(first, [bc.split_of(k, 7) for k in keys])
        counts = {s: first.count(s) for s in bc.SPLITS}
        self.assertGreater(counts["train"], 19300)
        self.assertTrue(100 < counts["valid"] < 300, counts)
        self.assertTrue(100 < counts["test"] < 300, counts)

    def test_seed_changes_the_assignment(self):
        keys = [f"doc{i}" for i in range(2000)]
        self.assertNotEqual([bc.split_of(k, 1) for k in keys], [bc.split_of(k, 2) for k in keys])


class BibleTest(unittest.TestCase):
    def test_chapters_and_verse_records(self):
        dump = ("Ge1:1 In the beginning God created the heaven and the earth.\n"
                "Ge1:2 And the earth was without form,   and void.\n"
                "Ge2:1 Thus the heavens and the earth were finished.\n"
                "1Jn3:16 Hereby perceive we the love of God.\n")
        docs, records = bc.kjv_documents(bc.parse_kjv_dump(dump))
        self.assertEqual([d[0] for d in docs], ["bible-kjv-text:Genesis 1",
                                                "bible-kjv-text:Genesis 2",
                                                "bible-kjv-text:1 John 3"])
        self.assertEqual(docs[0][2], "Genesis 1:1 In the beginning God created the heaven and "
                                     "the earth.\nGenesis 1:2 And the earth was without form, and void.")
        self.assertEqual(records[3], ("1 John 3", {"ref": "1 John 3:16",
                                                   "text": "Hereby perceive we the love of God."}))
        # A verse is split with its chapter's document.
        self.assertEqual(records[0][0], docs[0][1])

    def test_unknown_book_is_an_error(self):
        with self.assertRaises(ValueError):
            bc.parse_kjv_dump("Xyz1:1 text\n")


class DictionaryTest(unittest.TestCase):
    def test_gcide_markup_is_stripped(self):
        raw = ('Abash \\A*bash"\\ ([.a]*b[a^]sh"), v. t. [OE. abaishen, F. [\'e]bahir.]\n'
               '   To destroy the self-possession of; to confuse in {mind}.\n'
               '   [1913 Webster]\n\n'
               '   Note: W["o]hler in [ae]ther; pre["e]xisted.\n   [PJC]\n')
        head, text = bc.clean_gcide_entry(raw)
        self.assertEqual(head, "Abash")
        self.assertEqual(text, "Abash, v. t. To destroy the self-possession of; to confuse in "
                               "mind.\n\nNote: Wohler in aether; preexisted.")

    def test_dictd_offsets(self):
        self.assertEqual(bc.dictd_number("A"), 0)
        self.assertEqual(bc.dictd_number("BA"), 64)
        self.assertEqual(bc.dictd_number("/"), 63)

    def test_wordnet_entries_and_records(self):
        with tempfile.TemporaryDirectory() as root:
            base = os.path.join(root, "usr/share/wordnet")
            os.makedirs(base)
            header = "  1 This software and database is provided by Princeton.  \n"
            files = {
                "data.noun": "00000001 13 n 01 apple 0 000 | fruit with red skin; \"an apple a day\"  \n"
                             "00000002 20 n 01 apple 0 000 | native Eurasian tree  \n",
                "index.noun": "apple n 2 0 2 1 00000001 00000002  \n",
                "data.verb": "00000003 30 v 01 run_away 0 000 | flee; escape  \n",
                "index.verb": "run_away v 1 0 1 0 00000003  \n",
            }
            for suffix in ("noun", "verb", "adj", "adv"):
                for kind in ("data", "index"):
                    with open(os.path.join(base, f"{kind}.{suffix}"), "w") as f:
                        f.write(header + files.get(f"{kind}.{suffix}", ""))
            docs, records = bc.source_wordnet({"wordnet-base": root})
        self.assertEqual(docs[0], ("wordnet-base:apple", "apple",
                                   "apple\n\napple (noun):\n1. fruit with red skin; "
                                   "\"an apple a day\"\n2. native Eurasian tree"))
        self.assertEqual([r[1]["definition"] for r in records],
                         ["fruit with red skin", "native Eurasian tree", "flee; escape"])
        self.assertEqual(records[2], ("run away", {"headword": "run away", "pos": "verb",
                                                   "definition": "flee; escape",
                                                   "source": "wordnet-base"}))


class OtherSourcesTest(unittest.TestCase):
    def test_rst_to_text(self):
        rst = ("Title\n=====\n\n.. index:: single: foo\n   pair: bar\n\n"
               "Use :func:`os.path.join` and :ref:`the guide <guide-label>` or "
               "``literal`` with `Python <https://python.org>`_ and **bold**::\n\n"
               "    code()\n\n.. note::\n\n   Careful.\n\n.. code-block:: none\n\n   raw\n")
        self.assertEqual(bc.normalize_lines(bc.clean_rst(rst)),
                         "Title\n\nUse os.path.join and the guide or literal with Python and "
                         "bold:\n\n    code()\n\n   Careful.\n\n   raw")

    def test_toc_tail_is_trimmed(self):
        paragraphs = ["   :foo: n.", "   A word that means bar.", "   D", "   daemon",
                      "   dahmum", "   dynner", ""]
        self.assertEqual(bc.trim_toc_tail(paragraphs), paragraphs[:2])
        self.assertEqual(bc.trim_toc_tail(paragraphs[:3]), paragraphs[:3])

    def test_fortunes_are_parsed_and_packed(self):
        text = ("A fortune that is long enough.\n%\nSecond fortune,\n  on two lines.\n%\n\n%\n"
                "Tiny.\n%\nThe third fortune is here.\n")
        fortunes = bc.parse_fortune_file(text)  # empty and tiny ones are dropped
        self.assertEqual(fortunes, ["A fortune that is long enough.",
                                    "Second fortune,\n  on two lines.",
                                    "The third fortune is here."])
        packed = bc.pack_fortunes("fortunes:x", fortunes, limit=60)
        self.assertEqual(packed, [
            ("fortunes:x:00000", "A fortune that is long enough."),
            ("fortunes:x:00001", "Second fortune,\n  on two lines.\n\nThe third fortune is here.")])


class AssemblyTest(unittest.TestCase):
    def docs(self):
        long_text = PROSE * 3
        return [("b:1", "k1", "b", long_text), ("a:1", "k2", "a", long_text),
                ("a:2", "k3", "a", PROSE * 4)]

    def test_dedupe_keeps_first_in_source_order(self):
        kept = bc.dedupe(self.docs())
        self.assertEqual([d[0] for d in kept], ["a:1", "a:2"])

    def test_finalize_drops_short_and_cuts_long(self):
        raw = [("x:short", "x", "too short"), ("x:long", "x", (PROSE + "\n\n") * 600)]
        docs = bc.finalize_documents("x", raw)
        self.assertTrue(all(d[0].startswith("x:long#part") for d in docs))
        self.assertTrue(all(bc.MIN_DOC_CHARS <= len(d[3]) <= bc.MAX_DOC_CHARS for d in docs))
        self.assertEqual(len(docs), 2)

    def test_cap_is_deterministic_and_bounded(self):
        docs = [(f"s:{i:03d}", f"s:{i:03d}", "s", PROSE * 3) for i in range(50)]
        capped = bc.cap_source(docs, 1, None, 10 * len(PROSE * 3))
        self.assertEqual(len(capped), 10)
        self.assertEqual(capped, sorted(capped))
        self.assertEqual(capped, bc.cap_source(docs, 1, None, 10 * len(PROSE * 3)))
        self.assertEqual(len(bc.cap_source(docs, 1, 4, None)), 4)

    def test_outputs_are_byte_identical_and_checkable(self):
        docs = [(f"s:{i:03d}", f"k{i}", "s", PROSE * 3 + str(i)) for i in range(300)]
        verses = [(f"Book {i}", {"ref": f"Book {i}:1", "text": "Verse."}) for i in range(300)]
        words = [(f"k{i}", {"headword": f"w{i}", "pos": "noun", "definition": "d",
                            "source": "t"}) for i in range(300)]
        digests = []
        with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
            for out in (a, b):
                manifest = bc.write_outputs(out, list(reversed(docs)), verses, words,
                                            {"p": {"version": "1"}}, 5, {})
                digests.append(json.dumps(manifest["files"], sort_keys=True))
                self.assertEqual(bc.check(out), 0)
            self.assertEqual(digests[0], digests[1])
            total = sum(manifest["files"][f"{s}.jsonl"]["records"] for s in bc.SPLITS)
            self.assertEqual(total, 300)
            # Same key, same side: verse and dictionary files split like the documents.
            with open(os.path.join(a, "test.jsonl")) as f:
                test_ids = {json.loads(line)["id"] for line in f}
            with open(os.path.join(a, "dictionary.test.jsonl")) as f:
                test_words = {json.loads(line)["headword"] for line in f}
            self.assertTrue(test_ids)
            self.assertEqual({f"w{int(i[2:])}" for i in test_ids}, test_words)
            with open(os.path.join(a, "train.jsonl"), "a") as f:
                f.write("{}\n")
            self.assertEqual(bc.check(a), 1)


def write_junit(result, path, total):
    """Bazel reads per-case results from $XML_OUTPUT_FILE."""
    suite = ET.Element("testsuite", name="build_corpus_test", tests=str(total),
                       failures=str(len(result.failures)), errors=str(len(result.errors)))
    bad = {id(t): kind for kind, items in (("failure", result.failures), ("error", result.errors))
           for t, _ in items}
    for test in result.all_tests:
        case = ET.SubElement(suite, "testcase", name=test.id(), status="run")
        if id(test) in bad:
            ET.SubElement(case, bad[id(test)])
    ET.ElementTree(suite).write(path)


class RecordingResult(unittest.TextTestResult):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.all_tests = []

    def startTest(self, test):
        self.all_tests.append(test)
        super().startTest(test)


if __name__ == "__main__":
    suite = unittest.defaultTestLoader.loadTestsFromModule(sys.modules[__name__])
    result = unittest.TextTestRunner(resultclass=RecordingResult, verbosity=1).run(suite)
    if os.environ.get("XML_OUTPUT_FILE"):
        write_junit(result, os.environ["XML_OUTPUT_FILE"], result.testsRun)
    sys.exit(0 if result.wasSuccessful() else 1)
