#!/usr/bin/env python3
"""Flags two expressions GCC 12 miscompiles inside a co_await full-expression.

1. `co_await f(Type{...})`: a braced temporary passed straight into a coroutine call. The
   coroutine's by-value parameter ends up a bitwise copy whose std::string members point into
   the caller's frame (ASan: "free on address which was not malloc()-ed").
2. `co_await f(cond ? a : b)`: a conditional operator whose branches make temporaries; they
   are destroyed wrongly when the coroutine resumes (glibc: "munmap_chunk(): invalid pointer").

Build such arguments as named locals first. clang-tidy 14 cannot see either, so CI runs this
check (deploy/dev.sh lint).
"""
import re
import sys

BRACED = re.compile(r"[A-Za-z_][A-Za-z0-9_:<>]*\s*\{")
TERNARY = re.compile(r"\?(?:[^?:;]|::)*(?<!:):(?!:)")


def statements(text):
    text = re.sub(r"//[^\n]*", "", text)
    text = re.sub(r'"(?:\\.|[^"\\])*"', '""', text)
    text = re.sub(r"'(?:\\.|[^'\\])'", "''", text)
    start = 0
    for i, ch in enumerate(text):
        if ch in ";{}" and not (ch == "{" and BRACED.search(text[max(0, i - 80):i + 1])):
            yield text.count("\n", 0, start) + 1, text[start:i + 1]
            start = i + 1


def main(paths):
    bad = 0
    for path in paths:
        with open(path, encoding="utf-8") as f:
            text = f.read()
        for line, stmt in statements(text):
            pos = stmt.find("co_await")
            if pos < 0:
                continue
            call = stmt[pos:]
            paren = call.find("(")
            what = None
            if paren >= 0 and BRACED.search(call[paren:]):
                what = "braced temporary in a co_await argument"
            elif TERNARY.search(call):
                what = "conditional operator in a co_await expression"
            if what:
                first = stmt[pos:].strip().splitlines()[0]
                print(f"{path}:{line + stmt[:pos].count(chr(10))}: {what} (GCC 12 bug): {first}")
                bad += 1
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
