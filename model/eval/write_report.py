"""Turns the JSON that `evaluate` writes into docs/evaluation.md, PNG plots
(gnuplot) and the headline table of README.md's "Evaluation" section.

Usage: write_report.py EVALUATION_JSON [--docs docs] [--readme README.md]
                       [--command "the command that made the JSON"]

Writes DOCS/evaluation.md and DOCS/evaluation/{bleu_vs_length,bleu_vs_ratio,
passkey}.png; replaces the text between <!-- evaluation:begin --> and
<!-- evaluation:end --> in the README (appending the section when the
markers are missing). Python 3 standard library and the gnuplot binary only.
"""
import argparse
import json
import os
import re
import subprocess
import tempfile

TARGETS = {
    "bleu_4x": 0.9,    # reconstruction BLEU-4 at 4x
    "bleu_8x": 0.5,    # ... at 8x
    "passkey": 0.95,   # at every measured length
    "qa_vs_none": 0.9,  # answers from memory / the uncompressed baseline
}
ORDER = ["NONE", "IC_FORMER", "RCC"]


def length_clause(settings):
    """Where the run's reconstructions may end (reconstruct_min_share; older runs had none)."""
    share = settings.get("reconstruct_min_share", 0)
    if share:
        return f"with no end-of-text before {share:g} x the compressed tokens, as the server decodes"
    return "ending where the model chose"


def fmt(value, digits=3):
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def methods_of(report):
    return [m for m in ORDER if m in report["model"]["methods"]]


def ok(entry):
    return entry is not None and entry.get("status") == "ok"


def reason(entry):
    if entry is None:
        return "not measured"
    return f"n/a: {entry.get('reason', entry.get('status'))}"


def short_reason(entry):
    """reason() cut to its first clause, for the headline and target tables."""
    text = reason(entry)
    for stop in (" (", ": use", "; "):
        if stop in text[5:]:
            text = text[:5 + text[5:].index(stop)]
    return text


def rows(entry):
    return entry.get("results", []) if ok(entry) else []


def ratio_label(ratio):
    return f"{ratio:.1f}x" if ratio is not None else "n/a"


# ---------------------------------------------------------------- headline

def headline(report):
    """One row per method: the figure each measurement leads with."""
    out = ["| method | compression | reconstruction BLEU-4 | whole short documents: BLEU-4, "
           "cut short | passkey accuracy | QA F1 verses / dictionary (vs NONE) | "
           "perplexity of the next window | Compress tokens/s (NONE: prefill) |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    ppl = report.get("perplexity", {}).get("conditions", {})
    if "no_context" in ppl:
        out.append(f"| (no context) | | | | | | {fmt(ppl['no_context'].get('perplexity'), 2)} | |")
    for m in methods_of(report):
        recon = report.get("reconstruction", {}).get(m)
        recon_rows = rows(recon)
        ratios = sorted({round(r["ratio"], 1) for r in recon_rows})
        compression = ", ".join(ratio_label(r) for r in ratios) if ratios else "n/a"
        bleu = ", ".join(f"{fmt(r['bleu'])} @{r['length']}" for r in recon_rows) or short_reason(recon)
        docs = report.get("documents", {}).get(m)
        docs_cell = (f"{docs['bleu']:.3f}, {docs['cut_short_rate']:.0%}" if ok(docs)
                     else short_reason(docs))
        pk = report.get("passkey", {}).get(m)
        measured = [r for r in rows(pk) if r.get("status") == "ok"]
        if measured:
            passkey = ", ".join(f"{r['accuracy']:.0%} @{r['length'] // 1024}k"
                                if r["length"] % 1024 == 0 else f"{r['accuracy']:.0%} @{r['length']}"
                                for r in measured)
        else:
            passkey = short_reason(pk) if not ok(pk) else "no length fits"
        qa = report.get("qa", {}).get(m)
        if ok(qa):
            parts = []
            for name in ("verses", "dictionary"):
                s = qa["sets"].get(name)
                if s is None:
                    continue
                rel = s.get("f1_vs_none")
                parts.append(fmt(s["f1"]) + (f" ({rel:.0%})" if rel is not None and m != "NONE" else ""))
            qa_cell = " / ".join(parts)
        else:
            qa_cell = short_reason(qa)
        p = ppl.get(m)
        ppl_cell = fmt(p.get("perplexity"), 2) if ok_ppl(p) else short_reason(p)
        speed = report.get("speed", {}).get(m)
        speed_rows = rows(speed)
        if m == "NONE":
            # NONE's Compress only keeps the tokens; its cost is the prefill.
            speed_cell = "keeps the tokens; prefill " + (", ".join(
                f"{r['prefix_seconds']:.2f} s @{r['length']}" for r in speed_rows
                if r.get("prefix_seconds") is not None) or "not measured")
        else:
            speed_cell = ", ".join(f"{r['tokens_per_s']:,.0f} @{r['length']}" for r in speed_rows
                                   if r.get("tokens_per_s")) or short_reason(speed)
        out.append(f"| {m} | {compression} | {bleu} | {docs_cell} | {passkey} | {qa_cell} | "
                   f"{ppl_cell} | {speed_cell} |")
    return "\n".join(out)


def ok_ppl(p):
    return p is not None and "perplexity" in p


# ---------------------------------------------------------------- targets

def targets(report):
    out = ["| target | method | measured | met |", "| --- | --- | --- | --- |"]
    compressed = [m for m in methods_of(report) if m != "NONE"]
    for label, goal, ratio in (("reconstruction BLEU-4 >= 0.9 at 4x", TARGETS["bleu_4x"], 4),
                               ("reconstruction BLEU-4 >= 0.5 at 8x", TARGETS["bleu_8x"], 8)):
        found = False
        for m in compressed:
            at = [r for r in rows(report.get("reconstruction", {}).get(m))
                  if abs(r["ratio"] - ratio) < 0.5]
            if not at:
                continue
            found = True
            worst = min(r["bleu"] for r in at)
            measured = ", ".join(f"{r['bleu']:.3f} @{r['length']} tokens" for r in at)
            out.append(f"| {label} | {m} | {measured} | {'yes' if worst >= goal else 'no'} |")
        if not found:
            out.append(f"| {label} | | no method at {ratio}x was evaluated | not measured |")
    for m in compressed:
        pk = report.get("passkey", {}).get(m)
        measured = [r for r in rows(pk) if r.get("status") == "ok"]
        if measured:
            worst = min(r["accuracy"] for r in measured)
            cell = ", ".join(f"{r['accuracy']:.0%} @{r['length']}" for r in measured)
            out.append(f"| passkey >= 95% at every measured length | {m} | {cell} | "
                       f"{'yes' if worst >= TARGETS['passkey'] else 'no'} |")
        else:
            out.append(f"| passkey >= 95% at every measured length | {m} | {short_reason(pk)} | "
                       "not measured |")
    for m in compressed:
        qa = report.get("qa", {}).get(m)
        if ok(qa):
            rels = []
            for name, s in qa["sets"].items():
                for metric in ("exact_match", "f1"):
                    rel = s.get(f"{metric}_vs_none")
                    rels.append((name, metric, rel))
            cell = ", ".join(f"{n} {k.replace('_', ' ')} {fmt(r, 2)}" for n, k, r in rels)
            if any(r is None for _, _, r in rels):
                met = "not measurable (NONE scores 0 on a set)"
            else:
                met = "yes" if all(r >= TARGETS["qa_vs_none"] for _, _, r in rels) else "no"
            out.append(f"| QA within 90% of NONE | {m} | {cell} | {met} |")
        else:
            out.append(f"| QA within 90% of NONE | {m} | {short_reason(qa)} | not measured |")
    if not compressed:
        out.append("| (all) | | no compressor was loaded | not measured |")
    return "\n".join(out)


# ---------------------------------------------------------------- tables

def bleu_cells(r):
    """The cells a reconstruction row and a documents row share: ratio to exact text."""
    prec = " / ".join(f"{p:.2f}" for p in r["precisions"])
    return (f"{r['ratio']:.1f}x | {r['bleu']:.4f} | {prec} | {r['brevity_penalty']:.3f} | "
            f"{r['exact_text_rate']:.0%}")


def example_block(title, ex):
    return [title, "", "reference:", "", "```", ex["reference"].strip()[:700], "```", "",
            "reconstruction:", "", "```", ex["hypothesis"].strip()[:700] or "(nothing)", "```", ""]


def reconstruction_table(report):
    out = ["| method | tokens | windows | memory slots | ratio | BLEU-4 | 1-4-gram precisions | "
           "brevity penalty | exact text | seconds |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in methods_of(report):
        entry = report["reconstruction"].get(m)
        if not ok(entry):
            out.append(f"| {m} | {reason(entry)} | | | | | | | | |")
            continue
        for r in entry["results"]:
            out.append(f"| {m} | {r['length']} | {r['samples']} | {r['memory_slots']:.0f} | "
                       f"{bleu_cells(r)} | {r['seconds']:.0f} |")
    return "\n".join(out)


def documents_table(report):
    out = ["| method | documents | sources | mean tokens | ratio | BLEU-4 | 1-4-gram precisions | "
           "brevity penalty | exact text | cut short | seconds |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in methods_of(report):
        r = report["documents"].get(m)
        if not ok(r):
            out.append(f"| {m} | {reason(r)} | | | | | | | | | |")
            continue
        out.append(f"| {m} | {r['samples']} | {r['sources']} | {r['mean_tokens']:.0f} | "
                   f"{bleu_cells(r)} | {r['cut_short_rate']:.0%} | {r['seconds']:.0f} |")
    out.append("")
    for m in methods_of(report):
        r = report["documents"].get(m)
        if m != "NONE" and ok(r):
            out += example_block(f"{m}, the first document:", r["example"])
    return "\n".join(out).rstrip()


def passkey_table(report):
    out = ["| method | context tokens | contexts | memory slots | accuracy | seconds |",
           "| --- | --- | --- | --- | --- | --- |"]
    for m in methods_of(report):
        entry = report["passkey"].get(m)
        if not ok(entry):
            out.append(f"| {m} | {reason(entry)} | | | | |")
            continue
        for r in entry["results"]:
            if r.get("status") != "ok":
                out.append(f"| {m} | {r['length']} | {r.get('status')}: {r.get('reason', '')} "
                           "| | | |")
                continue
            out.append(f"| {m} | {r['length']} | {r['samples']} | {r['memory_slots']:.0f} | "
                       f"{r['accuracy']:.0%} ({r['correct']}/{r['samples']}) | "
                       f"{r['seconds']:.0f} |")
    return "\n".join(out)


def qa_table(report):
    out = ["| method | set | questions | ratio | exact match | F1 | EM vs NONE | F1 vs NONE |",
           "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for m in methods_of(report):
        entry = report["qa"].get(m)
        if not ok(entry):
            out.append(f"| {m} | {reason(entry)} | | | | | | |")
            continue
        for name, s in sorted(entry["sets"].items(), key=lambda kv: kv[0] != "verses"):
            out.append(f"| {m} | {name} | {s['samples']} | {s['ratio']:.1f}x | "
                       f"{s['exact_match']:.3f} | {s['f1']:.3f} | "
                       f"{fmt(s.get('exact_match_vs_none'), 2)} | {fmt(s.get('f1_vs_none'), 2)} |")
    return "\n".join(out)


def perplexity_table(report):
    p = report["perplexity"]
    out = [f"Windows of {p['window_tokens']} tokens, {p['samples']} pairs.", "",
           "| given | ratio | perplexity | mean log-prob | tokens |", "| --- | --- | --- | --- | --- |"]
    names = ["no_context", "NONE"] + [m for m in ORDER if m != "NONE"]
    names += [n for n in p["conditions"] if n not in names]
    for name in [n for n in names if n in p["conditions"]]:
        c = p["conditions"][name]
        label = {"no_context": "nothing", "NONE": "the raw previous window (NONE)"}.get(
            name, f"the {name} memory of the previous window")
        if "perplexity" not in c:
            out.append(f"| {label} | | {reason(c)} | | |")
            continue
        out.append(f"| {label} | {ratio_label(c.get('ratio')) if 'ratio' in c else ''} | "
                   f"{c['perplexity']:.2f} | {c['mean_log_prob']:.3f} | {c['tokens']} |")
    return "\n".join(out)


def speed_table(report):
    out = ["| method | context tokens | Compress seconds | tokens/s | memory slots | memory bytes | "
           "prefix build seconds |", "| --- | --- | --- | --- | --- | --- | --- |"]
    for m in methods_of(report):
        entry = report["speed"].get(m)
        if not ok(entry):
            out.append(f"| {m} | {reason(entry)} | | | | | |")
            continue
        for r in entry["results"]:
            prefix = fmt(r.get("prefix_seconds"), 3) if r.get("prefix_seconds") is not None \
                else f"n/a ({r.get('prefix_note', '')})"
            if m == "NONE":
                tps = "(keeps the tokens)"
            else:
                tps = f"{r['tokens_per_s']:,.0f}" if r.get("tokens_per_s") else "n/a"
            out.append(f"| {m} | {r['length']} | {r['compress_seconds']:.4f} | {tps} | "
                       f"{r['memory_slots']} | {r['memory_bytes']:,} | {prefix} |")
    return "\n".join(out)


def examples(report):
    out = []
    for m in methods_of(report):
        if m == "NONE":
            continue
        for r in rows(report.get("reconstruction", {}).get(m))[:1]:
            out += example_block(
                f"{m}, a {r['length']}-token window (BLEU-4 of its set {r['bleu']:.3f}):",
                r["example"])
    return "\n".join(out)


# ---------------------------------------------------------------- plots

def plot(docs_dir, report):
    """PNG plots with gnuplot; returns the file names written."""
    os.makedirs(os.path.join(docs_dir, "evaluation"), exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        recon_series, ratio_series, passkey_series = [], [], []
        for m in methods_of(report):
            recon = rows(report.get("reconstruction", {}).get(m))
            if recon:
                path = os.path.join(tmp, f"recon_{m}.dat")
                with open(path, "w") as f:
                    for r in recon:
                        f.write(f"{r['length']} {r['ratio']} {r['bleu']}\n")
                recon_series.append((m, path))
            pk = [r for r in rows(report.get("passkey", {}).get(m)) if r.get("status") == "ok"]
            if pk:
                path = os.path.join(tmp, f"passkey_{m}.dat")
                with open(path, "w") as f:
                    for r in pk:
                        f.write(f"{r['length']} {r['accuracy']}\n")
                passkey_series.append((m, path))
        common = ("set terminal pngcairo size 800,500 font 'sans,11' noenhanced\n"
                  "set grid\nset key outside right top\n")
        scripts = []
        if recon_series:
            scripts.append(("bleu_vs_length.png", common +
                            "set title 'Reconstruction BLEU-4 by context length'\n"
                            "set xlabel 'context tokens (log scale)'\nset logscale x 2\n"
                            "set ylabel 'BLEU-4'\nset yrange [0:1.05]\n"
                            "plot " + ", ".join(f"'{p}' using 1:3 with linespoints lw 2 pt 7 "
                                                f"title '{m}'" for m, p in recon_series)))
            # One point per (method, length): colour by method, symbol by length.
            lengths = sorted({r["length"] for m in methods_of(report)
                              for r in rows(report.get("reconstruction", {}).get(m))})
            symbols = {length: 5 + 2 * i for i, length in enumerate(lengths)}
            series = []
            for ci, (m, p) in enumerate(recon_series):
                for length in lengths:
                    series.append(f"'{p}' using ($1 == {length} ? $2 : 1/0):3 with points "
                                  f"lc {ci + 1} pt {symbols[length]} ps 1.8 "
                                  f"title '{m}, {length} tokens'")
            scripts.append(("bleu_vs_ratio.png", common +
                            "set title 'Reconstruction BLEU-4 by compression ratio'\n"
                            "set xlabel 'compression ratio (context tokens / memory slots)'\n"
                            "set ylabel 'BLEU-4'\nset yrange [0:1.05]\nset xrange [0:*]\n"
                            "set offsets 0.5, 0.5, 0, 0\n"
                            "plot " + ", ".join(series)))
        if passkey_series:
            scripts.append(("passkey.png", common +
                            "set title 'Passkey retrieval accuracy by context length'\n"
                            "set xlabel 'context tokens (log scale)'\nset logscale x 2\n"
                            "set ylabel 'accuracy'\nset yrange [0:1.05]\n"
                            "plot " + ", ".join(f"'{p}' using 1:2 with linespoints lw 2 pt 7 "
                                                f"title '{m}'" for m, p in passkey_series)))
        for name, script in scripts:
            out = os.path.join(docs_dir, "evaluation", name)
            subprocess.run(["gnuplot"], input=f"set output '{out}'\n{script}\n", text=True,
                           check=True)
            written.append(name)
    return written


# ---------------------------------------------------------------- main

def document(report, plots, command):
    s = report["settings"]
    label = s.get("label") or "(no label given)"
    secs = report.get("seconds", {})
    parts = [
        "# Evaluation",
        "",
        "What compression does to quality and speed, measured by `model/eval/evaluate` over the",
        "serving path (the same `Engine` the server calls: Compress, Concat, Generate,",
        "BuildPrefix, and ScoreContinuation for perplexity) on the held-out test split of the",
        "corpus ([corpus.md](corpus.md)). NONE is the uncompressed SmolLM2-135M-Instruct baseline.",
        "Greedy decoding throughout; every sample is drawn from generators seeded by `--seed`,",
        "so a rerun gives the same figures (timings aside). Made by this command, which anyone",
        "can rerun:",
        "",
        "```sh",
        command,
        "```",
        "",
        f"- models: decoder `{s['decoder_dir']}`; IC-Former "
        f"{'`' + s['icformer_dir'] + '`' if s['icformer_dir'] else 'not loaded'}; RCC "
        f"{'`' + s['rcc_dir'] + '`' if s['rcc_dir'] else 'not loaded (no trained RCC compressor yet)'}",
        f"- checkpoint: {label}",
        f"- {s['device']}, {s['dtype']}, {s['threads']} libtorch thread(s), seed {s['seed']}; "
        f"the whole run took {secs.get('total', 0) / 60:.1f} min",
        "",
        "## Headline",
        "",
        headline(report),
        "",
        "## Targets (issue 6)",
        "",
        targets(report),
        "",
    ]
    observed = notes(report)
    if observed:
        parts += ["Reading these figures:", "", observed, ""]
    if "reconstruction" in report:
        parts += ["## Reconstruction", "",
                  "Windows of the test split, compressed in one Compress call each and",
                  "reconstructed greedily (Reconstruct), at most as many tokens as were compressed,",
                  f"{length_clause(s)}.",
                  "Corpus BLEU-4 as sacrebleu computes it (13a tokenisation, brevity penalty;",
                  "model/eval/bleu.h, checked against sacrebleu in bleu_test), on a 0-1 scale.",
                  "The ratio is context tokens / memory slots. NONE holds the tokens themselves,",
                  "so it reconstructs exactly at 1x.", "",
                  reconstruction_table(report), ""]
        if "bleu_vs_length.png" in plots:
            parts += ["![BLEU-4 by length](evaluation/bleu_vs_length.png)", "",
                      "![BLEU-4 by compression ratio](evaluation/bleu_vs_ratio.png)", ""]
        parts += [examples(report)]
    if "documents" in report:
        parts += ["## Whole short documents", "",
                  f"{s.get('document_samples')} whole documents of the test split, each of 8 to "
                  f"{s.get('document_max_tokens')} tokens, their",
                  "corpus sources taken in turn, each compressed and reconstructed greedily",
                  f"(Reconstruct, up to 1.5x the compressed tokens, {length_clause(s)}):",
                  "where a text begins and ends,",
                  "which windows cut from running text do not test. \"Cut short\" counts",
                  "reconstructions under half the reference's characters.", "",
                  documents_table(report), ""]
    if "passkey" in report:
        parts += ["## Passkey retrieval", "",
                  "Filler from the test split with \"The pass key is NNNNN. Remember it. NNNNN is",
                  "the pass key.\" at a seeded random depth; the question \"What is the pass",
                  "key?\"; correct when the five digits are in the answer. Contexts enter as",
                  f"successive appends of {s['append_tokens']} tokens (Compress + Concat), as a",
                  "session grows. A length whose memory, prompt and answer do not fit in the",
                  f"decoder's {report['model']['max_positions']} positions is reported as such.", "",
                  passkey_table(report), ""]
        if "passkey.png" in plots:
            parts += ["![passkey accuracy](evaluation/passkey.png)", ""]
    if "qa" in report:
        parts += ["## Question answering", "",
                  f"Contexts of {s['qa_context_items']} consecutive KJV verses (\"<ref> <text>\" per",
                  "line) with the question \"What does <ref> say?\", and of as many WordNet",
                  "entries (\"<headword> (<pos>): <definition>\") with \"What is the definition of",
                  "\\\"<headword>\\\"?\"; the reference answer is the verse text or the definition.",
                  "Scores are SQuAD's normalised exact match and token F1 (model/eval/qa_metrics.h);",
                  "\"vs NONE\" divides by the uncompressed baseline's (the target is 0.9).", "",
                  qa_table(report), ""]
    if "perplexity" in report:
        parts += ["## Perplexity", "",
                  "Perplexity of a window of text (teacher-forced, Engine::ScoreContinuation)",
                  "given nothing (after the BOS token), the raw previous window (NONE), or each",
                  "method's memory of the previous window read as plain preceding context (no",
                  "chat template; IC-Former: [digests, text], ICAE's language-modelling layout).", "",
                  perplexity_table(report), ""]
    if "speed" in report:
        parts += ["## Compression speed", "",
                  "Median wall time of Compress over the repeats (one context per call), and the",
                  "time to build the decoder's prefix cache from the memory once (what the first",
                  "answer token waits for; n/a where the method cannot answer). Timings on a",
                  "shared machine, so they vary from run to run.", "",
                  speed_table(report), ""]
    return "\n".join(parts).rstrip() + "\n"


def notes(report):
    """Observations that follow from the figures themselves."""
    out = []
    none_pk = [r for r in rows(report.get("passkey", {}).get("NONE")) if r.get("status") == "ok"]
    weak = [r for r in none_pk if r["accuracy"] < TARGETS["passkey"]]
    if weak:
        out.append("- The uncompressed baseline itself stays below 95% passkey accuracy ("
                   + ", ".join(f"{r['accuracy']:.0%} at {r['length']}" for r in weak)
                   + "): the small decoder, not compression, limits retrieval here; a compressed "
                   "method can only beat it if its fine-tuning teaches the task.")
    too_long = [r["length"] for r in rows(report.get("passkey", {}).get("NONE"))
                if r.get("status") == "exceeds_capacity"]
    if too_long:
        out.append(f"- NONE cannot hold {', '.join(str(n) for n in too_long)} tokens: context, "
                   f"question and answer must fit in the decoder's "
                   f"{report['model']['max_positions']} positions; compressed memories of the "
                   "same text are 1/ratio as long.")
    none_qa = report.get("qa", {}).get("NONE")
    if ok(none_qa):
        ems = [s["exact_match"] for s in none_qa["sets"].values()]
        if ems and max(ems) < 0.2:
            out.append("- Answers are free-form chat replies, rarely the bare verse or definition, "
                       "so exact match is near 0 for every method; token F1 is the informative "
                       "score and the ratio to NONE is the target's measure.")
    for m in methods_of(report):
        if m == "NONE":
            continue
        for what in ("passkey", "qa"):
            entry = report.get(what, {}).get(m)
            if entry is not None and entry.get("status") == "n/a":
                out.append(f"- {m} could not answer ({what}): {entry.get('reason')}. Its "
                           "reconstruction, perplexity and speed are measured; answering needs "
                           "the fine-tuned (FT) checkpoint.")
                break
    return "\n".join(out)


def readme_section(report, label):
    return "\n".join([
        "## Evaluation",
        "",
        f"Measured by `model/eval/run_evaluation.sh`; checkpoint: {label}.",
        "Every table, the issue's targets and the plots are in",
        "[docs/evaluation.md](docs/evaluation.md).",
        "",
        headline(report),
    ])


def replace_section(path, section):
    begin, end = "<!-- evaluation:begin -->", "<!-- evaluation:end -->"
    block = f"{begin}\n{section.rstrip()}\n{end}"
    text = open(path).read()
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: block, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    open(path, "w").write(text)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("json")
    parser.add_argument("--docs", default="docs")
    parser.add_argument("--readme", default="README.md")
    parser.add_argument("--command", default="model/eval/run_evaluation.sh")
    args = parser.parse_args()
    report = json.load(open(args.json))
    plots = plot(args.docs, report)
    with open(os.path.join(args.docs, "evaluation.md"), "w") as f:
        f.write(document(report, plots, args.command))
    if args.readme:
        replace_section(args.readme, readme_section(report, report["settings"].get("label") or
                                                    "no label"))


if __name__ == "__main__":
    main()
