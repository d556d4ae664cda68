#!/usr/bin/env python3
"""Compares two outputs of the conformance program (sim/conformance/main.cc).

  conformance_compare.py VIRTUAL REFERENCE DIFFERENCES
      The virtual kernel's output against the reference (Wine's, committed
      as sim/conformance/wine-8.0.txt). Every check must print the same
      line, except the checks DIFFERENCES lists; for those the virtual
      kernel must print exactly the line recorded there. Fails (exit 1) on
      an unlisted difference, on a listed line that changed, on a listed
      check that no longer differs (a stale entry), and on a check missing
      from either side.

  conformance_compare.py --same LIVE REFERENCE
      A live run under Wine against the committed reference: identical
      lines (carriage returns ignored), or exit 1 with the drift.

  conformance_compare.py --windows LIVE REFERENCE DIFFERENCES
      A run on real Windows. What Windows should print is the reference
      with each listed check replaced by the virtual kernel's line (the
      entries say Wine is the one that differs there); exit 1 with every
      check where Windows prints something else.

Bad input (an unreadable file, a malformed entry) is a one-line error
naming the file and line, exit 2.
"""
import sys


def fail_input(msg):
    print(f"conformance: {msg}", file=sys.stderr)
    sys.exit(2)


def read_checks(path):
    """check name -> observed text, in file order."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().replace("\r", "").splitlines()
    except OSError as e:
        fail_input(f"{path}: cannot read: {e.strerror}")
    checks = {}
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        name, sep, observed = line.partition(": ")
        if not sep or " " in name:
            fail_input(f"{path}:{n}: not a check line: {line[:60]!r}")
        if name in checks:
            fail_input(f"{path}:{n}: check {name} printed twice")
        checks[name] = observed
    return checks


def read_differences(path):
    """check name -> (virtual line, reason)."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as e:
        fail_input(f"{path}: cannot read: {e.strerror}")
    entries, current = {}, None
    for n, line in enumerate(lines, 1):
        if not line.strip() or line.startswith("#"):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            if current in entries:
                fail_input(f"{path}:{n}: {current} listed twice")
            entries[current] = {"virtual": None, "why": "", "line": n}
            continue
        key, sep, value = line.partition(":")
        if current is None or not sep or key.strip() not in ("virtual", "why", ""):
            fail_input(f"{path}:{n}: expected '[check]', 'virtual: ...' or 'why: ...'")
        key = key.strip() or "why"
        if key == "virtual":
            entries[current]["virtual"] = value.strip()
        else:
            entries[current]["why"] += value.strip() + " "
    for name, e in entries.items():
        if e["virtual"] is None or not e["why"].strip():
            fail_input(f"{path}:{e['line']}: {name} needs both 'virtual:' and 'why:'")
    return entries


def compare(virtual_path, reference_path, differences_path):
    virtual = read_checks(virtual_path)
    reference = read_checks(reference_path)
    listed = read_differences(differences_path)
    problems, agree = [], 0
    for name in reference:
        if name not in virtual:
            problems.append(f"{name}: missing from the virtual kernel's output")
    for name, observed in virtual.items():
        if name not in reference:
            problems.append(f"{name}: not in the reference (re-run it under Wine: scripts/test --wine)")
            continue
        ref = reference[name]
        if name in listed:
            if observed == ref:
                problems.append(f"{name}: listed in {differences_path} but agrees now; remove the entry")
            elif observed != listed[name]["virtual"]:
                problems.append(f"{name}: the virtual kernel changed a listed difference\n"
                                f"    recorded: {listed[name]['virtual']}\n    now:      {observed}")
        elif observed != ref:
            problems.append(f"{name}: differs from the reference and is not listed\n"
                            f"    reference: {ref}\n    virtual:   {observed}")
        else:
            agree += 1
    for name in listed:
        if name not in virtual:
            problems.append(f"{name}: listed in {differences_path} but no such check")
    print(f"conformance: {len(virtual)} checks, {agree} agree with the reference, "
          f"{len(listed)} listed differences, {len(problems)} problems")
    for p in problems:
        print(f"  FAIL {p}")
    return 1 if problems else 0


def same(live_path, reference_path):
    live, reference = read_checks(live_path), read_checks(reference_path)
    problems = []
    for name in sorted(set(live) | set(reference)):
        if live.get(name) != reference.get(name):
            problems.append(f"{name}\n    reference: {reference.get(name, '(missing)')}\n"
                            f"    live:      {live.get(name, '(missing)')}")
    print(f"conformance: {len(live)} checks live, {len(reference)} in the reference, "
          f"{len(problems)} drifted")
    for p in problems:
        print(f"  DRIFT {p}")
    return 1 if problems else 0


def windows(live_path, reference_path, differences_path):
    live, reference = read_checks(live_path), read_checks(reference_path)
    listed = read_differences(differences_path)
    expected = {name: listed[name]["virtual"] if name in listed else text
                for name, text in reference.items()}
    problems = []
    for name in sorted(set(live) | set(expected)):
        if live.get(name) != expected.get(name):
            problems.append(f"{name}{' (listed: Wine differs here)' if name in listed else ''}\n"
                            f"    expected: {expected.get(name, '(missing)')}\n"
                            f"    windows:  {live.get(name, '(missing)')}")
    print(f"conformance: {len(live)} checks on Windows, {len(live) - len(problems)} as expected, "
          f"{len(problems)} different")
    for p in problems:
        print(f"  DIFFERS {p}")
    return 1 if problems else 0


def main(argv):
    if len(argv) == 4 and argv[1] == "--same":
        return same(argv[2], argv[3])
    if len(argv) == 5 and argv[1] == "--windows":
        return windows(argv[2], argv[3], argv[4])
    if len(argv) == 4 and not argv[1].startswith("-"):
        return compare(argv[1], argv[2], argv[3])
    fail_input("usage: conformance_compare.py VIRTUAL REFERENCE DIFFERENCES | --same LIVE REFERENCE"
               " | --windows LIVE REFERENCE DIFFERENCES")


if __name__ == "__main__":
    sys.exit(main(sys.argv))
