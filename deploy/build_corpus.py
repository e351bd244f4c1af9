#!/usr/bin/env python3
"""Builds the project's English training corpus from Debian packages.

The compressors are trained on freely licensed text that any Debian 12 mirror
serves, so the corpus can be rebuilt anywhere without a network beyond the
mirror. Each package is fetched with `apt-get download` (never installed),
unpacked with `dpkg-deb -x`, cut into documents at natural boundaries (a Bible
chapter, a dictionary entry, a Jargon File entry, a documentation page),
cleaned, deduplicated and split into train/valid/test by a hash of a split key
and the seed, so the same inputs always give byte-identical outputs.

Outputs (in --out, default data/corpus/):
  {train,valid,test}.jsonl             {"id", "source", "text"}: language-model text
  dictionary.{train,valid,test}.jsonl  {"headword", "pos", "definition", "source"}
  verses.{train,valid,test}.jsonl      {"ref", "text"}
  manifest.json                        versions, .deb sha256, licences, file sha256s

Structured records share the split key of the documents they come from (the
headword, the book and chapter), so a held-out verse or headword is held out of
the language-model text as well.

Usage: deploy/build_corpus.py [--out DIR] [--seed N] [--max-docs-per-source N]
                              [--max-chars-per-source N] [--cache DIR]
       deploy/build_corpus.py --check [--out DIR]
Standard library only.
"""

import argparse
import collections
import glob
import gzip
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import unicodedata

SCRIPT_VERSION = "1"
DEFAULT_SEED = 1234
MIN_DOC_CHARS = 200
MAX_DOC_CHARS = 50_000
# Tens of MB of text is far more than a few CPU hours of training can consume;
# the cap keeps the big documentation packages from drowning the rest.
DEFAULT_MAX_CHARS_PER_SOURCE = 12_000_000
FORTUNE_PACK_CHARS = 2_000
SPLITS = ("train", "valid", "test")

# Packages, in processing order. "tool" packages are only unpacked to read the
# data of another (bible-kjv holds the reader for bible-kjv-text's format).
PACKAGES = [
    ("bible-kjv-text", "Public domain (KJV text, 1611); packaging GPL-2+"),
    ("bible-kjv", "GPL-2+ (reader program only; used to decode bible-kjv-text)"),
    ("dict-gcide", "GPL-2+ (GCIDE: Webster's 1913, public domain, plus GPL additions)"),
    ("wordnet-base", "WordNet 3.0 licence (Princeton; BSD-like, permissive)"),
    ("jargon-text", "Public domain (Jargon File 4.4.7)"),
    ("fortunes", "BSD-3-Clause (fortune-mod, UC Regents); quotations belong to their authors"),
    ("fortunes-min", "BSD-3-Clause (fortune-mod, UC Regents); quotations belong to their authors"),
    ("linux-doc-6.1", "GPL-2 (Linux kernel documentation)"),
    ("python3.11-doc", "PSF-2.0 (Python documentation)"),
]


def log(msg):
    print(f"[corpus] {msg}", file=sys.stderr, flush=True)


# --- Text cleaning -----------------------------------------------------------

_CONTROL_CATEGORIES = {"Cc", "Cf", "Co", "Cs", "Cn"}


def drop_nonprintable(text):
    """Removes control/format/private-use characters, keeping newlines; tabs
    become spaces so that every character left is printable."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").expandtabs(8)
    return "".join(c for c in text if c == "\n" or
                   unicodedata.category(c) not in _CONTROL_CATEGORIES)


def normalize_lines(text):
    """Keeps line structure (code, verse, lists): strips trailing spaces,
    collapses blank-line runs to one paragraph break, trims the ends."""
    text = unicodedata.normalize("NFC", drop_nonprintable(text))
    lines = [line.rstrip() for line in text.split("\n")]
    text = "\n".join(lines)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n").strip()


def normalize_prose(text):
    """For hard-wrapped prose: joins the lines of each paragraph with single
    spaces and separates paragraphs with "\\n\\n"."""
    text = unicodedata.normalize("NFC", drop_nonprintable(text))
    paragraphs = re.split(r"\n[ \t]*\n", text)
    out = []
    for p in paragraphs:
        p = " ".join(p.split())
        if p:
            out.append(p)
    return "\n\n".join(out)


def is_junk(text):
    """True for text that is mostly not English words: too few letters, or
    mostly non-ASCII letters (the translated kernel docs, ASCII art)."""
    visible = [c for c in text if not c.isspace()]
    if len(visible) < 20:
        return True
    letters = sum(1 for c in visible if c.isalpha())
    ascii_letters = sum(1 for c in visible if c.isascii() and c.isalpha())
    if letters < 0.45 * len(visible):
        return True
    return ascii_letters < 0.9 * letters


def split_long(text, limit=MAX_DOC_CHARS):
    """Cuts text into pieces of at most `limit` characters at paragraph
    breaks (at line breaks, then hard, when a paragraph is itself too long)."""
    if len(text) <= limit:
        return [text]
    pieces, current = [], ""
    for para in text.split("\n\n"):
        units = [para]
        if len(para) > limit:
            units = para.split("\n")
            units = [u[i:i + limit] for u in units for i in range(0, max(len(u), 1), limit)]
            sep = "\n"
        else:
            sep = "\n\n"
        for unit in units:
            if current and len(current) + 2 + len(unit) > limit:
                pieces.append(current)
                current = unit
            else:
                current = f"{current}{sep if current else ''}{unit}"
        # A paragraph cut into lines continues with a paragraph break after it.
    if current:
        pieces.append(current)
    return [p.strip() for p in pieces if p.strip()]


def text_hash(text):
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def split_of(key, seed):
    """98/1/1 by a hash of the split key and the seed: stable across runs and
    independent of which other documents exist."""
    h = int(hashlib.sha256(f"{seed}\0{key}".encode("utf-8")).hexdigest()[:16], 16)
    bucket = h % 100
    if bucket == 0:
        return "test"
    if bucket == 1:
        return "valid"
    return "train"


_RST_ROLE = re.compile(r":[A-Za-z][\w.+-]*(?::[A-Za-z][\w.+-]*)*:`([^`]*)`")
_RST_LINK = re.compile(r"`([^`<]+?)\s*<[^`>]*>`__?")
_RST_UNDERLINE = re.compile(r"^\s*([=\-~^\"'*+#`.:_])\1{3,}\s*$")
_RST_DROP_DIRECTIVE = re.compile(
    r"^\s*\.\.\s+(index|toctree|_[^:]*|include|literalinclude|image|figure|"
    r"kernel-[\w-]+|only|raw|tabularcolumns|highlight|sectionauthor|moduleauthor|"
    r"module|currentmodule|c:namespace|SPDX-License-Identifier|\|)")


def _role_text(m):
    inner = m.group(1)
    inner = re.sub(r"\s*<[^>]*>$", "", inner)
    return inner.lstrip("~!")


def clean_rst(text):
    """Turns reStructuredText into readable plain text: roles and links keep
    their words, section underlines and housekeeping directives go."""
    out, skipping_block = [], False
    for line in text.split("\n"):
        if skipping_block:
            # A dropped directive owns its indented continuation lines.
            if line.strip() == "" or line.startswith((" ", "\t")):
                continue
            skipping_block = False
        if _RST_DROP_DIRECTIVE.match(line):
            skipping_block = True
            continue
        if _RST_UNDERLINE.match(line):
            continue
        m = re.match(r"^(\s*)\.\.\s+([\w:-]+)::\s*(.*)$", line)
        if m:  # note::, code-block::, function:: ... keep the argument only
            if m.group(3) and m.group(2) not in ("code-block", "code", "sourcecode", "highlight"):
                out.append(m.group(1) + m.group(3))
            continue
        if re.match(r"^\s+:[\w -]+:", line) and out and out[-1].strip() == "":
            continue
        if re.match(r"^\s*\.\.\s*$", line) or re.match(r"^\s*\.\.\s+\S", line):
            continue  # comments
        line = _RST_ROLE.sub(_role_text, line)
        line = _RST_LINK.sub(r"\1", line)
        line = re.sub(r"``([^`]+)``", r"\1", line)
        line = re.sub(r"`([^`]+)`_{0,2}", r"\1", line)
        line = re.sub(r"\*\*(\S[^*]*?)\*\*", r"\1", line)
        line = re.sub(r"(\S)::$", r"\1:", line)
        if line.strip() == "::":
            continue
        out.append(line)
    return "\n".join(out)


# --- Debian packages -----------------------------------------------------------

def run(cmd, **kwargs):
    return subprocess.run(cmd, check=False, capture_output=True, text=True, **kwargs)


def candidate_version(pkg):
    r = run(["apt-cache", "show", "--no-all-versions", pkg])
    if r.returncode != 0:
        return None
    for line in r.stdout.splitlines():
        if line.startswith("Version: "):
            return line.split(" ", 1)[1].strip()
    return None


def fetch_deb(pkg, cache, updated):
    """Returns the path of PKG's .deb in the cache, downloading it if needed;
    None when the mirror has no such package. `updated` is a one-element list
    so that apt-get update runs at most once per build."""
    for attempt in range(2):
        version = candidate_version(pkg)
        if version:
            pattern = os.path.join(cache, f"{pkg}_{version.replace(':', '%3a')}_*.deb")
            found = sorted(glob.glob(pattern))
            if found:
                return found[0]
            r = run(["apt-get", "download", pkg], cwd=cache)
            found = sorted(glob.glob(pattern))
            if r.returncode == 0 and found:
                return found[0]
            log(f"apt-get download {pkg} failed: {r.stderr.strip()[-300:]}")
        if attempt == 0 and not updated[0]:
            updated[0] = True
            log("running apt-get update (a package was not found)")
            r = run(["apt-get", "update", "-qq"])
            if r.returncode != 0:
                log(f"apt-get update failed: {r.stderr.strip()[-300:]}")
        else:
            break
    return None


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def unpack(deb, dest):
    if os.path.isdir(dest):
        shutil.rmtree(dest)
    os.makedirs(dest)
    r = run(["dpkg-deb", "-x", deb, dest])
    if r.returncode != 0:
        raise RuntimeError(f"dpkg-deb -x {deb} failed: {r.stderr.strip()}")
    r = run(["dpkg-deb", "-f", deb, "Version"])
    return r.stdout.strip()


def read_text_file(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


# --- Sources: each yields (id, split_key, text) documents ------------------------

KJV_BOOKS = {
    "Ge": "Genesis", "Exo": "Exodus", "Lev": "Leviticus", "Num": "Numbers",
    "Deu": "Deuteronomy", "Josh": "Joshua", "Jdgs": "Judges", "Ruth": "Ruth",
    "1Sm": "1 Samuel", "2Sm": "2 Samuel", "1Ki": "1 Kings", "2Ki": "2 Kings",
    "1Chr": "1 Chronicles", "2Chr": "2 Chronicles", "Ezra": "Ezra",
    "Neh": "Nehemiah", "Est": "Esther", "Job": "Job", "Psa": "Psalms",
    "Prv": "Proverbs", "Eccl": "Ecclesiastes", "SSol": "Song of Solomon",
    "Isa": "Isaiah", "Jer": "Jeremiah", "Lam": "Lamentations",
    "Eze": "Ezekiel", "Dan": "Daniel", "Hos": "Hosea", "Joel": "Joel",
    "Amos": "Amos", "Obad": "Obadiah", "Jonah": "Jonah", "Mic": "Micah",
    "Nahum": "Nahum", "Hab": "Habakkuk", "Zep": "Zephaniah", "Hag": "Haggai",
    "Zec": "Zechariah", "Mal": "Malachi", "Mat": "Matthew", "Mark": "Mark",
    "Luke": "Luke", "John": "John", "Acts": "Acts", "Rom": "Romans",
    "1Cor": "1 Corinthians", "2Cor": "2 Corinthians", "Gal": "Galatians",
    "Eph": "Ephesians", "Phi": "Philippians", "Col": "Colossians",
    "1Th": "1 Thessalonians", "2Th": "2 Thessalonians", "1Tim": "1 Timothy",
    "2Tim": "2 Timothy", "Titus": "Titus", "Phmn": "Philemon",
    "Heb": "Hebrews", "Jas": "James", "1Pet": "1 Peter", "2Pet": "2 Peter",
    "1Jn": "1 John", "2Jn": "2 John", "3Jn": "3 John", "Jude": "Jude",
    "Rev": "Revelation",
}
_VERSE_LINE = re.compile(r"^([1-3]?[A-Za-z]+)(\d+):(\d+)\s+(.*)$")


def parse_kjv_dump(dump):
    """Parses `bible -f` output ("Ge1:1 In the beginning ...") into
    (book, chapter, verse, text) tuples in canonical order."""
    verses = []
    for line in dump.splitlines():
        m = _VERSE_LINE.match(line.strip())
        if not m:
            continue
        abbrev, chapter, verse, text = m.groups()
        book = KJV_BOOKS.get(abbrev)
        if book is None:
            raise ValueError(f"unknown KJV book abbreviation {abbrev!r}")
        verses.append((book, int(chapter), int(verse), " ".join(text.split())))
    return verses


def kjv_documents(verses):
    """One document per chapter; verses keep their references. Returns the
    documents and the verse records, both keyed by "Book Chapter"."""
    chapters = collections.OrderedDict()
    for book, chapter, verse, text in verses:
        chapters.setdefault(f"{book} {chapter}", []).append((verse, text))
    docs, records = [], []
    for key, vs in chapters.items():
        lines = [f"{key}:{v} {t}" for v, t in vs]
        docs.append((f"bible-kjv-text:{key}", key, normalize_lines("\n".join(lines))))
        for v, t in vs:
            records.append((key, {"ref": f"{key}:{v}", "text": t}))
    return docs, records


def source_kjv(roots):
    data_dir = os.path.join(roots["bible-kjv-text"], "usr/lib")
    reader = os.path.join(roots["bible-kjv"], "usr/bin/bible")
    r = subprocess.run([reader, "-f", "-p", data_dir, "Gen1:1-Rev22:21"],
                       stdin=subprocess.DEVNULL, capture_output=True, check=False)
    if r.returncode != 0:
        raise RuntimeError(f"the bible-kjv reader failed (it needs libreadline8): "
                           f"{r.stderr.decode(errors='replace').strip()}")
    verses = parse_kjv_dump(r.stdout.decode("utf-8", errors="replace"))
    if len(verses) != 31102:
        raise RuntimeError(f"expected 31102 KJV verses, read {len(verses)}")
    return kjv_documents(verses)


_B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"


def dictd_number(s):
    n = 0
    for c in s:
        n = n * 64 + _B64.index(c)
    return n


# GCIDE writes accented letters as bracket codes: a mark before or after the
# letter ("[=a]", "[\"o]", "[a^]", "[aum]"), ligatures ("[ae]") and named
# letters ("[eth]", "[alpha]"). Plain text keeps the base letter or the name.
_GCIDE_DIACRITIC = re.compile(
    r"\[([\"'=`^~.*,]?)([A-Za-z]{1,2})(\^|=|\*|`|'|~|,|um|ac|gr|cced|til|cir|ring|dot|sd|sm)?\]")
_GCIDE_NAMED = {"eth": "th", "thorn": "th", "ETH": "Th", "THORN": "Th", "deg": " degrees",
                "sect": "section", "pound": "pound", "frac12": "1/2", "frac14": "1/4",
                "frac34": "3/4"}
_GREEK = ("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi "
          "omicron pi rho sigma tau upsilon phi chi psi omega").split()


def _gcide_char(m):
    before, letters, after = m.group(1), m.group(2), m.group(3)
    if not before and not after:
        # Bare two-letter brackets are ligatures ([ae], [oe]); others are text.
        return letters if letters.lower() in ("ae", "oe") else m.group(0)
    return letters


def _gcide_named(m):
    name = m.group(1)
    if name in _GCIDE_NAMED:
        return _GCIDE_NAMED[name]
    if name.lower() in _GREEK:
        return name
    return m.group(0)


def clean_gcide_entry(raw):
    """GCIDE dictd entry -> (headword, plain text): pronunciation, phonetic
    spelling, etymology and source tags dropped, cross-reference braces
    unwrapped, wrapped lines joined into paragraphs."""
    lines = [l for l in raw.split("\n") if not re.match(r"^\s*\[[^\]]*\]\s*$", l)]
    text = "\n".join(lines)
    head = text.split(" \\", 1)[0].strip()
    text = re.sub(r"\\[^\\\n]*\\", "", text)
    text = re.sub(r"\((?:[^()\s]*[\[\"*'][^()\s]*)\)", "", text)
    text = _GCIDE_DIACRITIC.sub(_gcide_char, text)
    text = re.sub(r"\[([A-Za-z0-9]{2,8})\]", _gcide_named, text)
    # Etymology: the first bracket group of the entry's first paragraph.
    first, sep, rest = text.partition("\n\n")
    first = re.sub(r"\[[^\[\]]*(?:\[[^\[\]]*\][^\[\]]*)*\]", "", first, count=1)
    text = first + sep + rest
    text = re.sub(r"\{([^{}]*)\}", r"\1", text)
    text = text.replace("{", "").replace("}", "")
    text = re.sub(r"\s+,", ",", text)
    return head, normalize_prose(text)


def source_gcide(roots):
    base = os.path.join(roots["dict-gcide"], "usr/share/dictd")
    with gzip.open(os.path.join(base, "gcide.dict.dz"), "rb") as f:
        data = f.read()
    spans = set()
    with open(os.path.join(base, "gcide.index"), encoding="utf-8") as f:
        for line in f:
            word, off, length = line.rstrip("\n").split("\t")
            if word.startswith("00-database"):
                continue
            spans.add((dictd_number(off), dictd_number(length)))
    docs, seen_heads = [], collections.Counter()
    for off, length in sorted(spans):
        raw = data[off:off + length].decode("utf-8", errors="replace")
        head, text = clean_gcide_entry(raw)
        if not head or not text:
            continue
        seen_heads[head] += 1
        doc_id = f"dict-gcide:{head}#{seen_heads[head]}"
        docs.append((doc_id, head.lower(), text))
    return docs, []


WORDNET_POS = [("noun", "noun"), ("verb", "verb"), ("adj", "adjective"), ("adv", "adverb")]


def source_wordnet(roots):
    base = os.path.join(roots["wordnet-base"], "usr/share/wordnet")
    glosses = {}
    for suffix, _ in WORDNET_POS:
        with open(os.path.join(base, f"data.{suffix}"), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):
                    continue  # licence header
                fields, _, gloss = line.partition(" | ")
                glosses[(suffix, fields.split(" ", 1)[0])] = gloss.strip()
    lemmas = collections.defaultdict(list)  # lemma -> [(pos name, gloss)] in sense order
    for suffix, pos in WORDNET_POS:
        with open(os.path.join(base, f"index.{suffix}"), encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("  "):
                    continue
                parts = line.split()
                lemma, synset_cnt = parts[0], int(parts[2])
                for offset in parts[-synset_cnt:]:
                    gloss = glosses.get((suffix, offset))
                    if gloss:
                        lemmas[lemma.replace("_", " ")].append((pos, gloss))
    docs, records = [], []
    for lemma in sorted(lemmas):
        senses = lemmas[lemma]
        key = lemma.lower()
        lines, last_pos, n = [lemma], None, 0
        for pos, gloss in senses:
            if pos != last_pos:
                lines.append(f"\n{lemma} ({pos}):")
                last_pos, n = pos, 0
            n += 1
            lines.append(f"{n}. {gloss}")
            definition = gloss.split("; \"")[0].strip().rstrip(";").strip()
            if definition:
                records.append((key, {"headword": lemma, "pos": pos,
                                      "definition": definition, "source": "wordnet-base"}))
        docs.append((f"wordnet-base:{lemma}", key, normalize_lines("\n".join(lines))))
    return docs, records


def trim_toc_tail(paragraphs):
    """The Jargon File's text dump puts each letter's list of headwords after
    the previous letter's last entry: drop trailing runs of short one-line,
    unpunctuated paragraphs."""
    paragraphs = [p for p in paragraphs if p.strip()]
    end = len(paragraphs)
    while end > 1:
        p = paragraphs[end - 1].strip()
        if "\n" in p or len(p) > 40 or p[-1] in ".!?\"”)":
            break
        end -= 1
    if len(paragraphs) - end < 3:
        return paragraphs
    return paragraphs[:end]


def source_jargon(roots):
    path = os.path.join(roots["jargon-text"], "usr/share/doc/jargon-text/jargon.txt.gz")
    lines = read_text_file(path).split("\n")
    glossary = next(i for i, l in enumerate(lines) if l.strip() == "Glossary")
    appendix = next(i for i, l in enumerate(lines) if re.match(r"^Appendix\s+A\.", l))
    docs = []

    def add(doc_id, key, body):
        paragraphs = trim_toc_tail(re.split(r"\n\s*\n", "\n".join(body)))
        # {word} marks a cross-reference to another entry.
        text = re.sub(r"\{([^{}]*)\}", r"\1", "\n\n".join(paragraphs))
        text = normalize_prose(text)
        if text:
            docs.append((doc_id, key, text))

    # Front matter and appendices: one document per chapter.
    heading = re.compile(r"^(Chapter\s+\d+\.|Appendix\s+[A-Z]\.|Bibliography)")
    starts = [i for i, l in enumerate(lines) if heading.match(l)]
    for n, start in enumerate(starts):
        stop = starts[n + 1] if n + 1 < len(starts) else len(lines)
        if start < glossary:
            stop = min(stop, glossary)
        title = " ".join(lines[start].split())
        add(f"jargon-text:{title}", title, lines[start:stop])
    # The lexicon: entries start with "   :Headword: ...".
    entry = re.compile(r"^   :(.+?):")
    entry_starts = [i for i in range(glossary, appendix) if entry.match(lines[i])]
    seen = collections.Counter()
    for n, start in enumerate(entry_starts):
        stop = entry_starts[n + 1] if n + 1 < len(entry_starts) else appendix
        head = entry.match(lines[start]).group(1)
        seen[head] += 1
        add(f"jargon-text:{head}#{seen[head]}", head.lower(), lines[start:stop])
    return docs, []


FORTUNE_SKIP = {"ascii-art", "art"}  # pictures, not prose


def pack_fortunes(file_label, fortunes, limit=FORTUNE_PACK_CHARS):
    """Groups consecutive fortunes of one cookie file into documents of about
    `limit` characters: a fortune is the natural unit, but most are far below
    the minimum document length."""
    docs, group, size, first = [], [], 0, 0
    for i, f in enumerate(fortunes):
        if group and size + len(f) > limit:
            docs.append((f"{file_label}:{first:05d}", "\n\n".join(group)))
            group, size = [], 0
        if not group:
            first = i
        group.append(f)
        size += len(f) + 2
    if group:
        docs.append((f"{file_label}:{first:05d}", "\n\n".join(group)))
    return docs


def parse_fortune_file(text):
    out = []
    for chunk in re.split(r"^%\s*$", text, flags=re.M):
        chunk = normalize_lines(chunk)
        if chunk and not is_junk(chunk):
            out.append(chunk)
    return out


def source_fortunes(roots, package):
    base = os.path.join(roots[package], "usr/share/games/fortunes")
    docs, seen = [], set()
    for path in sorted(glob.glob(os.path.join(base, "*"))):
        name = os.path.basename(path)
        if "." in name or os.path.islink(path) or not os.path.isfile(path) or name in FORTUNE_SKIP:
            continue
        fortunes = []
        for f in parse_fortune_file(read_text_file(path)):
            h = text_hash(f)
            if h not in seen:
                seen.add(h)
                fortunes.append(f)
        for doc_id, text in pack_fortunes(f"{package}:{name}", fortunes):
            docs.append((doc_id, doc_id, text))
    return docs, []


def rst_documents(package, root, rel_paths):
    docs = []
    for rel in rel_paths:
        text = normalize_lines(clean_rst(read_text_file(os.path.join(root, rel))))
        name = re.sub(r"(\.rst)?(\.txt)?(\.gz)?$", "", rel)
        docs.append((f"{package}:{name}", f"{package}:{name}", text))
    return docs


def source_linux_doc(roots, package):
    root = os.path.join(roots[package], f"usr/share/doc/{package}/Documentation")
    rels = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("translations", "devicetree"))
        for fn in filenames:
            if fn.endswith((".rst.gz", ".txt.gz", ".rst", ".txt")):
                rels.append(os.path.relpath(os.path.join(dirpath, fn), root))
    return rst_documents(package, root, sorted(rels)), []


def source_python_doc(roots, package):
    root = os.path.join(roots[package], "usr/share/doc/python3.11/html/_sources")
    rels = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in ("whatsnew",))
        for fn in filenames:
            if fn.endswith(".rst.txt"):
                rels.append(os.path.relpath(os.path.join(dirpath, fn), root))
    skip = {"genindex", "contents", "license", "copyright", "bugs", "about"}
    rels = [r for r in sorted(rels) if r.split(".", 1)[0] not in skip]
    return rst_documents(package, root, rels), []


# --- Assembly --------------------------------------------------------------------

def finalize_documents(source, raw_docs):
    """Cleans, cuts and filters one source's documents: returns a sorted list of
    (id, split_key, source, text)."""
    out = []
    for doc_id, key, text in raw_docs:
        if is_junk(text):
            continue
        pieces = split_long(text)
        for n, piece in enumerate(pieces):
            if len(piece) < MIN_DOC_CHARS or is_junk(piece):
                continue
            pid = doc_id if len(pieces) == 1 else f"{doc_id}#part{n + 1}"
            out.append((pid, key, source, piece))
    out.sort()
    return out


def cap_source(docs, seed, max_docs, max_chars):
    """Keeps a deterministic pseudo-random subset (by hash of id and seed) so a
    cap samples the whole source rather than its alphabetical beginning."""
    if max_docs is None and max_chars is None:
        return docs
    order = sorted(docs, key=lambda d: hashlib.sha256(f"{seed}\0{d[0]}".encode()).digest())
    kept, chars = [], 0
    for d in order:
        if max_docs is not None and len(kept) >= max_docs:
            break
        if max_chars is not None and chars + len(d[3]) > max_chars:
            continue
        kept.append(d)
        chars += len(d[3])
    return sorted(kept)


def dedupe(docs):
    """Drops exact duplicates of normalised text across all sources; the
    first in (source, id) order wins."""
    seen, out = set(), []
    for d in sorted(docs, key=lambda d: (d[2], d[0])):
        h = text_hash(d[3])
        if h in seen:
            continue
        seen.add(h)
        out.append(d)
    return out


def write_jsonl(path, rows):
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False, separators=(", ", ": ")) + "\n")


def describe_file(path):
    records, chars = 0, 0
    with open(path, encoding="utf-8") as f:
        for line in f:
            row = json.loads(line)
            records += 1
            chars += sum(len(v) for k, v in row.items() if k in ("text", "definition"))
    return {"sha256": file_sha256(path), "records": records, "chars": chars}


def build(args):
    cache = os.path.abspath(args.cache)
    work = os.path.join(os.path.dirname(cache), "corpus-extract")
    os.makedirs(cache, exist_ok=True)
    os.makedirs(args.out, exist_ok=True)
    roots, packages, updated = {}, {}, [False]
    for pkg, licence in PACKAGES:
        deb = fetch_deb(pkg, cache, updated)
        if deb is None:
            log(f"WARNING: package {pkg} is not available from the configured mirrors; SKIPPED")
            continue
        version = unpack(deb, os.path.join(work, pkg))
        roots[pkg] = os.path.join(work, pkg)
        packages[pkg] = {"version": version, "deb": os.path.basename(deb),
                         "sha256": file_sha256(deb), "licence": licence}
        log(f"{pkg} {version}: unpacked")

    def missing(*needed):
        absent = [p for p in needed if p not in roots]
        if absent:
            log(f"WARNING: skipping a source: missing {', '.join(absent)}")
        return bool(absent)

    extractors = [
        ("bible-kjv-text", ("bible-kjv-text", "bible-kjv"), source_kjv),
        ("dict-gcide", ("dict-gcide",), source_gcide),
        ("wordnet-base", ("wordnet-base",), source_wordnet),
        ("jargon-text", ("jargon-text",), source_jargon),
        ("fortunes", ("fortunes",), lambda r: source_fortunes(r, "fortunes")),
        ("fortunes-min", ("fortunes-min",), lambda r: source_fortunes(r, "fortunes-min")),
        ("linux-doc-6.1", ("linux-doc-6.1",), lambda r: source_linux_doc(r, "linux-doc-6.1")),
        ("python3.11-doc", ("python3.11-doc",), lambda r: source_python_doc(r, "python3.11-doc")),
    ]
    all_docs, verse_records, dict_records = [], [], []
    for source, needed, extract in extractors:
        if missing(*needed):
            continue
        raw_docs, records = extract(roots)
        docs = finalize_documents(source, raw_docs)
        before = sum(len(d[3]) for d in docs)
        docs = cap_source(docs, args.seed, args.max_docs_per_source, args.max_chars_per_source)
        after = sum(len(d[3]) for d in docs)
        log(f"{source}: {len(docs)} documents, {after} chars" +
            (f" (capped from {before})" if after != before else ""))
        all_docs.extend(docs)
        if source == "bible-kjv-text":
            verse_records = records
        elif records:
            dict_records.extend(records)
    options = {"max_docs_per_source": args.max_docs_per_source,
               "max_chars_per_source": args.max_chars_per_source}
    manifest = write_outputs(args.out, all_docs, verse_records, dict_records,
                             packages, args.seed, options)
    print_summary(manifest)
    return 0


def write_outputs(out_dir, docs, verse_records, dict_records, packages, seed, options):
    """Deduplicates and splits the documents (id, split_key, source, text) and
    the (split_key, record) pairs, writes every output file and the manifest,
    and returns the manifest."""
    all_docs = dedupe(docs)
    outputs = {}
    by_split = {s: [] for s in SPLITS}
    for doc_id, key, source, text in all_docs:
        by_split[split_of(key, seed)].append({"id": doc_id, "source": source, "text": text})
    for s in SPLITS:
        rows = sorted(by_split[s], key=lambda r: r["id"])
        write_jsonl(os.path.join(out_dir, f"{s}.jsonl"), rows)
        outputs[f"{s}.jsonl"] = rows
    for name, records, sort_key in (
            ("verses", verse_records, None),
            ("dictionary", dict_records,
             lambda r: (r["headword"], r["pos"], r["definition"], r["source"]))):
        parts = {s: [] for s in SPLITS}
        seen = set()
        for key, rec in records:
            sig = json.dumps(rec, sort_keys=True)
            if sig in seen:
                continue
            seen.add(sig)
            parts[split_of(key, seed)].append(rec)
        for s in SPLITS:
            rows = parts[s] if sort_key is None else sorted(parts[s], key=sort_key)
            write_jsonl(os.path.join(out_dir, f"{name}.{s}.jsonl"), rows)

    manifest = {
        "script": "deploy/build_corpus.py",
        "script_version": SCRIPT_VERSION,
        "seed": seed,
        "options": dict(options, min_doc_chars=MIN_DOC_CHARS, max_doc_chars=MAX_DOC_CHARS,
                        split="sha256(seed, split key) % 100: 0 test, 1 valid, else train"),
        "packages": packages,
        "missing_packages": [p for p, _ in PACKAGES if p not in packages],
        "files": {},
        "summary": summary_rows(outputs),
    }
    for name in sorted(os.listdir(out_dir)):
        if name.endswith(".jsonl"):
            manifest["files"][name] = describe_file(os.path.join(out_dir, name))
    with open(os.path.join(out_dir, "manifest.json"), "w", encoding="utf-8") as f:
        json.dump(manifest, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")
    return manifest


def summary_rows(outputs):
    """{source: {split: [docs, chars]}} for the language-model files."""
    table = collections.defaultdict(lambda: {s: [0, 0] for s in SPLITS})
    for s in SPLITS:
        for row in outputs[f"{s}.jsonl"]:
            cell = table[row["source"]][s]
            cell[0] += 1
            cell[1] += len(row["text"])
    return {k: table[k] for k in sorted(table)}


def format_summary(manifest):
    rows = manifest["summary"]
    header = f"{'source':<16}" + "".join(f"{s + ' docs':>12}{s + ' chars':>14}" for s in SPLITS)
    lines = [header, "-" * len(header)]
    totals = {s: [0, 0] for s in SPLITS}
    for source, cells in rows.items():
        lines.append(f"{source:<16}" + "".join(f"{cells[s][0]:>12,}{cells[s][1]:>14,}" for s in SPLITS))
        for s in SPLITS:
            totals[s][0] += cells[s][0]
            totals[s][1] += cells[s][1]
    lines.append("-" * len(header))
    lines.append(f"{'total':<16}" + "".join(f"{totals[s][0]:>12,}{totals[s][1]:>14,}" for s in SPLITS))
    files = manifest["files"]
    for name in ("verses", "dictionary"):
        counts = ", ".join(f"{s} {files.get(f'{name}.{s}.jsonl', {}).get('records', 0):,}" for s in SPLITS)
        lines.append(f"{name} records: {counts}")
    if manifest.get("missing_packages"):
        lines.append(f"MISSING packages: {', '.join(manifest['missing_packages'])}")
    return "\n".join(lines)


def print_summary(manifest):
    print(format_summary(manifest))


def check(out_dir):
    """Verifies every file in out_dir's manifest (sha256, records, characters);
    returns the exit status."""
    path = os.path.join(out_dir, "manifest.json")
    try:
        with open(path, encoding="utf-8") as f:
            manifest = json.load(f)
    except (OSError, ValueError) as e:
        log(f"cannot read {path}: {e}")
        return 1
    bad = 0
    for name, want in sorted(manifest["files"].items()):
        full = os.path.join(out_dir, name)
        if not os.path.isfile(full):
            log(f"MISSING {name}")
            bad += 1
            continue
        got = describe_file(full)
        if got != want:
            log(f"MISMATCH {name}: manifest {want}, found {got}")
            bad += 1
    if bad:
        log(f"check FAILED: {bad} of {len(manifest['files'])} files differ from {path}")
        return 1
    print_summary(manifest)
    log(f"check OK: {len(manifest['files'])} files match {path}")
    return 0


def main(argv=None):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--out", default=os.path.join(root, "data", "corpus"))
    p.add_argument("--cache", default=os.path.join(root, ".cache", "corpus-debs"),
                   help="where downloaded .debs are kept (unpacked next to it)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED)
    p.add_argument("--max-docs-per-source", type=int, default=None)
    p.add_argument("--max-chars-per-source", type=int, default=DEFAULT_MAX_CHARS_PER_SOURCE,
                   help="0 for unlimited")
    p.add_argument("--check", action="store_true",
                   help="verify an existing --out against its manifest.json")
    args = p.parse_args(argv)
    if args.max_chars_per_source == 0:
        args.max_chars_per_source = None
    return check(args.out) if args.check else build(args)


if __name__ == "__main__":
    sys.exit(main())
