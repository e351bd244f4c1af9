"""sacrebleu's own scores on fixed hypothesis/reference sets, for bleu_test.

Writes OUTPUT_JSON: {"tokenized": [[segment, sacrebleu 13a tokens], ...],
"corpora": [{"name", "hypotheses", "references", "score", "precisions",
"bp", "sys_len", "ref_len", "counts", "totals"}, ...]} from sacrebleu's
BLEU() with its defaults (13a, exp smoothing). The pseudo-random corpora use
a seeded generator, so the file is the same on every run.

Usage: make_bleu_reference.py OUTPUT_JSON
"""
import json
import random
import sys

from sacrebleu.metrics import BLEU
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

SEGMENTS = [
    "The cat sat on the mat.",
    "  Leading and trailing spaces   ",
    "Numbers: 3.14, 1,000 and 2,5; also 1990-2000 and -5.",
    "Dots... and commas,, everywhere.,",
    "a.b,c 1.a a.1 ,1 1, .x x.",
    "Quotes &quot;here&quot; &amp; there &lt;tag&gt; &amp;amp;",
    "Line one-\nline two\nline three",
    "<skipped> words",
    "Symbols: (a) [b] {c} <d> a/b a\\b a|b a~b a^b a_b a`b a@b a#b a$b a%b a*b a+b a=b a?b a!b",
    "It's a don't-stop o'clock thing - really -- yes",
    "caf\u00e9 na\u00efve \u00fcber \u2014 dash \u2019quote\u2019",
    "non\u00a0breaking\u3000ideographic\u2003em space\u2028separator",
    "tabs\tand\x0bvertical\x0cfeed\rreturn\x1cfile",
    "trailing unicode space\u00a0\u2003",
    "",
    "   ",
    "12-3 a-b 4-",
]


def corpus(name, hyps, refs):
    score = BLEU().corpus_score(hyps, [refs])
    return {"name": name, "hypotheses": hyps, "references": refs, "score": score.score,
            "precisions": score.precisions, "bp": score.bp, "sys_len": score.sys_len,
            "ref_len": score.ref_len, "counts": score.counts, "totals": score.totals}


def perturbed(rng, words):
    out = []
    for w in words:
        r = rng.random()
        if r < 0.08:
            continue  # drop
        if r < 0.16:
            out.append(rng.choice(words))  # substitute
        elif r < 0.20:
            out.extend([w, rng.choice(words)])  # insert
        else:
            out.append(w)
    return out


def main():
    rng = random.Random(20240601)
    vocab = ("the of and to in a is that for it as with was on be by at this from or an "
             "were are which but not have had his her their one all would there been "
             "cat dog house river 1.5 2,000 e.g. U.S. (note) -- it's \"quoted\" end.").split()
    random_hyps, random_refs = [], []
    for _ in range(60):
        ref = [rng.choice(vocab) for _ in range(rng.randint(1, 40))]
        random_refs.append(" ".join(ref))
        random_hyps.append(" ".join(perturbed(rng, ref)))
    short_refs = ["a b c", "one two", "x"]
    corpora = [
        corpus("identical", SEGMENTS[:5], SEGMENTS[:5]),
        corpus("all_segments_shifted", SEGMENTS, SEGMENTS[1:] + SEGMENTS[:1]),
        corpus("partial", ["the cat sat on a mat", "a quick brown dog jumps",
                           "completely different words here"],
               ["the cat sat on the mat", "the quick brown fox jumps over the lazy dog",
                "nothing in common at all"]),
        corpus("longer_hypotheses", ["the the the the cat cat cat on the mat mat",
                                      "a b c d e f g h i j"],
               ["the cat on the mat", "a b c d"]),
        corpus("no_matches", ["xyz uvw", "qqq"], ["abc def", "rrr sss"]),
        corpus("empty_hypotheses", ["", ""], ["some reference text", "more"]),
        corpus("short_no_4grams", ["a b c", "one two", "x"], short_refs),
        corpus("short_partial", ["a b d", "one three", "x"], short_refs),
        corpus("no_trigram_match", ["a b x c d y e f", "p q r"], ["a b c d e f", "p q r s"]),
        corpus("random_perturbations", random_hyps, random_refs),
    ]
    tokenized = [[s, Tokenizer13a()(s.rstrip())] for s in SEGMENTS]
    with open(sys.argv[1], "w", encoding="utf-8") as f:
        json.dump({"tokenized": tokenized, "corpora": corpora}, f, ensure_ascii=False, indent=1)


if __name__ == "__main__":
    main()
