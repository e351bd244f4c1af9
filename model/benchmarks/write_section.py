"""Replaces (or appends) one section of docs/benchmarks.md, between the
markers <!-- NAME:begin --> and <!-- NAME:end -->, with stdin.

Usage: some_benchmark | write_section.py NAME [docs/benchmarks.md]
"""
import re
import sys


def main():
    name = sys.argv[1]
    path = sys.argv[2] if len(sys.argv) > 2 else "docs/benchmarks.md"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    section = f"{begin}\n{sys.stdin.read().rstrip()}\n{end}"
    text = open(path).read()
    if begin in text:
        text = re.sub(re.escape(begin) + ".*?" + re.escape(end), lambda _: section, text,
                      flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    open(path, "w").write(text)


if __name__ == "__main__":
    main()
