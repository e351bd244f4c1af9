"""Writes a tokenizer.json variant and Hugging Face's encodings of random texts.

Run at build time by the genrules of model/tokenizer/BUILD with the project's
.venv Python (Hugging Face tokenizers), so that the C++ tokenizer is checked
against the reference on texts no one picked by hand:

  hf_fixture.py --source tokenizer.json --variant neox --seed 1 --count 300 \
      --tokenizer_out neox.json --cases_out neox_cases.json [--extra_cases cases.json]

Variants of the GPT-NeoX tokenizer.json (each exercises options the others
do not):
  neox               the file as it is (ByteLevel, "a b" merges)
  prefix_space       ByteLevel add_prefix_space, [a, b] merges, ignore_merges
  smollm2_style      SmolLM2's pre-tokenizer: Sequence[Digits(individual),
                     ByteLevel]; lstrip/rstrip special tokens; an added
                     non-special, non-normalized token
  digit_runs         Sequence[Digits(runs), ByteLevel add_prefix_space]
  no_regex           ByteLevel use_regex=false: no splitting at all

cases_out holds {"cases": [{"text", "ids", "decoded", "decoded_skip_special"}]}
with ids = encode(text, add_special_tokens=False).ids and the two decodes of
those ids. JSON is written ASCII-only (\\u escapes).
"""
import argparse
import json
import random

from tokenizers import Tokenizer

EXTRA_TOKEN = "<tool_call>"  # added by smollm2_style


def make_variant(source, variant):
    j = json.loads(source)
    model = j["model"]
    if variant == "neox":
        pass
    elif variant == "prefix_space":
        j["pre_tokenizer"]["add_prefix_space"] = True
        model["merges"] = [m.split(" ") for m in model["merges"]]
        model["ignore_merges"] = True
    elif variant == "smollm2_style":
        j["pre_tokenizer"] = {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Digits", "individual_digits": True},
                {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                 "use_regex": True},
            ],
        }
        for t in j["added_tokens"]:
            if t["content"] == "<|endoftext|>":
                t["lstrip"] = True
            if t["content"] == "<|padding|>":
                t["rstrip"] = True
        next_id = max(model["vocab"].values()) + 1
        j["added_tokens"].append({
            "id": next_id, "content": EXTRA_TOKEN, "single_word": False, "lstrip": False,
            "rstrip": False, "normalized": False, "special": False})
    elif variant == "no_regex":
        j["pre_tokenizer"]["use_regex"] = False
    elif variant == "digit_runs":
        j["pre_tokenizer"] = {
            "type": "Sequence",
            "pretokenizers": [
                {"type": "Digits", "individual_digits": False},
                {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True,
                 "use_regex": True},
            ],
        }
    else:
        raise SystemExit("unknown variant " + variant)
    return json.dumps(j, ensure_ascii=False)


SPACES = [" ", "\t", "\n", "\r", "\x0b", "\x0c", "\r\n", "\u00a0", "\u0085", "\u1680",
          "\u2000", "\u2005", "\u200a", "\u2028", "\u2029", "\u202f", "\u205f", "\u3000"]
WORDS = ["Hello", "world", "the", "tokenizer", "GPT", "café", "naïve", "Zürich", "résumé",
         "e\u0301", "A\u030a", "straße", "Ελληνικά", "русский", "עברית", "العربية",
         "हिन्दी", "ภาษาไทย", "日本語", "中文", "한국어", "ひらがな", "カタカナ"]
CONTRACTIONS = ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'x", "'",
                "''", "\u2019s", "don't", "I'm", "they're", "we've", "she'll", "he'd"]
EMOJI = ["\U0001F680", "\u2705", "\U0001F636\u200d\U0001F32B\ufe0f",
         "\U0001F468\u200d\U0001F469\u200d\U0001F467\u200d\U0001F466",
         "\U0001F44D\U0001F3FD", "\u2764\ufe0f", "\U0001F1E9\U0001F1EA", "\U0001F9D1\u200d\U0001F4BB"]
NUMBERS = ["0", "7", "42", "1234567", "3.14159", "1,000", "\u0660\u0661\u0662", "\u0967\u0968",
           "\uff11\uff12", "\u00b2", "\u00bd", "\u216b", "\U0001CCF0\U0001CCF1", "2024-01-01"]
ADDED = ["<|endoftext|>", "<|padding|>", EXTRA_TOKEN, "<|endoftext", "<|pad", "<|endoftext|><|padding|>"]
PUNCT = list("!\"#$%&()*+,-./:;<=>?@[\\]^_`{|}~") + ["...", "--", "?!", "\u2014", "\u00ab", "\u201c"]


def random_code_point(rng):
    while True:
        plane = rng.choice([0, 0, 0, 1, 1, 2, 3, rng.randrange(4, 17)])
        cp = plane * 0x10000 + rng.randrange(0x10000)
        if not 0xD800 <= cp <= 0xDFFF:
            return chr(cp)


def random_piece(rng):
    kind = rng.randrange(12)
    if kind == 0:
        return "".join(rng.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
                       for _ in range(rng.randint(1, 10)))
    if kind == 1:
        return rng.choice(WORDS)
    if kind == 2:  # white space runs, long enough to reach the 24-space tokens
        if rng.random() < 0.5:
            return " " * rng.randint(1, 30)
        return "".join(rng.choice(SPACES) for _ in range(rng.randint(1, 6)))
    if kind == 3:
        return rng.choice(CONTRACTIONS)
    if kind == 4:
        return rng.choice(EMOJI)
    if kind == 5:
        return rng.choice(NUMBERS) if rng.random() < 0.5 else str(rng.randrange(10 ** rng.randint(1, 12)))
    if kind == 6:
        return "".join(random_code_point(rng) for _ in range(rng.randint(1, 4)))
    if kind == 7:
        return rng.choice(ADDED)
    if kind == 8:
        return rng.choice(PUNCT)
    if kind == 9:  # CJK, Hangul, kana
        lo, hi = rng.choice([(0x4E00, 0x9FFF), (0xAC00, 0xD7A3), (0x3040, 0x30FF)])
        return "".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 6)))
    if kind == 10:  # control characters and odd marks
        return rng.choice(["\x00", "\x01", "\x1f", "\x7f", "\x9f", "\u200b", "\u200d", "\ufeff",
                           "\u0301", "\ufffd", "\uffff", "\U0010FFFF"])
    return " " + rng.choice(WORDS + CONTRACTIONS + NUMBERS)


FIXED = ["", " ", "  ", "   ", "\n", "\n\n", " \n", "\t\n", "a", " a", "a ", "'s", " 's", "x'sy",
         "Hello world", " Hello World!", "   Hello", "a" * 300, "9" * 50, "a  b", "a \tb",
         "<|endoftext|>", " <|endoftext|> ", "x<|padding|>  y", "  <|endoftext|>  <|padding|>  ",
         EXTRA_TOKEN + "1", "ied 4 \u00bd months", "\u00a0\u00a0x", "x\u3000\u3000"]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--source", required=True)
    parser.add_argument("--variant", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--tokenizer_out", required=True)
    parser.add_argument("--cases_out", required=True)
    parser.add_argument("--extra_cases", help="a cases.json whose texts are encoded too")
    args = parser.parse_args()

    with open(args.source, encoding="utf-8") as f:
        variant_json = make_variant(f.read(), args.variant)
    with open(args.tokenizer_out, "w", encoding="utf-8") as f:
        f.write(variant_json)
    tokenizer = Tokenizer.from_str(variant_json)

    rng = random.Random(args.seed)
    texts = list(FIXED)
    if args.extra_cases:
        with open(args.extra_cases, encoding="utf-8") as f:
            texts += [c["text"] for c in json.load(f)]
    for _ in range(args.count):
        texts.append("".join(random_piece(rng) for _ in range(rng.randint(1, 25))))
    cases = []
    for text in texts:
        ids = tokenizer.encode(text, add_special_tokens=False).ids
        cases.append({
            "text": text,
            "ids": ids,
            "decoded": tokenizer.decode(ids, skip_special_tokens=False),
            "decoded_skip_special": tokenizer.decode(ids, skip_special_tokens=True),
        })
    with open(args.cases_out, "w", encoding="ascii") as f:
        json.dump({"variant": args.variant, "seed": args.seed, "cases": cases}, f,
                  ensure_ascii=True, indent=0)


if __name__ == "__main__":
    main()
