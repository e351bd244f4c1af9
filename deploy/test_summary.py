"""Counts test cases from Bazel's test.xml files (standard library only).

  test_summary.py TESTLOGS_DIR //pkg:target ... [--label NAME]
      prints one line per target "label target passed failed" and
  test_summary.py --total   (reads those lines on stdin)
      prints the final "N passed, N failed".

A target without a test.xml (it failed to build, or crashed before writing
one) counts as one failed case.
"""
import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def count_target(testlogs: Path, target: str):
    package, _, name = target.lstrip("/").partition(":")
    xml_path = testlogs / package / name / "test.xml"
    if not xml_path.exists():
        return 0, 1
    try:
        root = ET.parse(xml_path).getroot()
    except ET.ParseError:
        return 0, 1
    passed = failed = 0
    for case in root.iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.get("status", "run") == "run" and case.find("skipped") is None:
            passed += 1
    if passed + failed == 0:
        # A non-gtest test: its exit status is in the suite's attributes.
        suite_failures = sum(int(s.get("failures", 0)) + int(s.get("errors", 0))
                             for s in root.iter("testsuite"))
        return (0, 1) if suite_failures else (1, 0)
    return passed, failed


def main(argv):
    if argv[1:] == ["--total"]:
        passed = failed = 0
        for line in sys.stdin:
            fields = line.split()
            passed += int(fields[-2])
            failed += int(fields[-1])
            if int(fields[-1]):
                print(f"FAILED: {' '.join(fields[:-2])}", file=sys.stderr)
        print(f"{passed} passed, {failed} failed")
        return 0
    label = "main"
    args = argv[2:]
    if "--label" in args:
        i = args.index("--label")
        label = args[i + 1]
        del args[i:i + 2]
    for target in args:
        passed, failed = count_target(Path(argv[1]), target)
        print(f"{label} {target} {passed} {failed}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
