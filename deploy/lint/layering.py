#!/usr/bin/env python3
"""Checks that the code keeps the shape design.md §2 and style.md give it.

1. Dependencies point one way. No file of the core (bot/, outside bot/daemon/) includes
   adapters/, actions/ or config/; only bot/daemon/ (the composition root) may. The core
   includes no Beast, OpenSSL, curl, sqlite, spawn, JSON, YAML or mustache header (bot/store/
   may use sqlite and OpenSSL: it is the SQLite store). Adapters and actions never include each
   other.
2. The pure parts of the core (the approval machine, the grammar, policy, planner values, the
   verdicts) do not pull in Asio, not even through another header: checked with the compiler's
   own dependency list (-M) from build/compile_commands.json.
3. Size: no .cpp in bot/ above 400 lines, no header above 200.

Usage: layering.py BUILD_DIR   (run from the repository root; exit 1 on any finding)
"""
import json
import os
import re
import shlex
import subprocess
import sys

INCLUDE = re.compile(r'^\s*#\s*include\s*([<"])([^>"]+)[>"]', re.M)

CORE_FORBIDDEN = ("boost/beast", "openssl/", "curl/", "sqlite3.h", "spawn.h", "nlohmann/",
                  "yaml-cpp/", "kainjow/")
STORE_ALLOWED = ("sqlite3.h", "openssl/")
PURE = ["bot/approval.cpp", "bot/approval_names.cpp", "bot/approver_rules.cpp",
        "bot/command_parser.cpp", "bot/command_words.cpp", "bot/access_policy.cpp",
        "bot/decision.cpp", "bot/verdict.cpp", "bot/plan.cpp", "bot/lock_table.cpp",
        "bot/records.cpp", "bot/run.cpp", "bot/text.cpp"]
MAX_CPP = 400
MAX_HPP = 200


def tracked(prefix):
    out = subprocess.run(["git", "ls-files", prefix], capture_output=True, text=True, check=True)
    return [p for p in out.stdout.split() if p.endswith((".cpp", ".hpp"))]


def includes(path):
    with open(path, encoding="utf-8") as f:
        return INCLUDE.findall(f.read())


def check_direction(problems):
    for path in tracked("bot"):
        in_daemon = path.startswith("bot/daemon/")
        in_store = path.startswith("bot/store/")
        for kind, name in includes(path):
            if kind == '"' and not in_daemon and name.startswith(("adapters/", "actions/",
                                                                  "config/")):
                problems.append(f"{path}: includes {name}: only bot/daemon/ may include "
                                "adapters/, actions/ or config/")
            if kind == "<" and not in_daemon:
                bad = [f for f in CORE_FORBIDDEN if name.startswith(f)]
                if in_store:
                    bad = [f for f in bad if f not in STORE_ALLOWED]
                if bad:
                    problems.append(f"{path}: includes <{name}>, which the core must not use")
    for folder, other in (("adapters", "actions/"), ("actions", "adapters/")):
        for path in tracked(folder):
            for kind, name in includes(path):
                if kind == '"' and name.startswith(other):
                    problems.append(f"{path}: includes {name}: adapters and actions never "
                                    "include each other")


def check_pure(build, problems):
    db_path = os.path.join(build, "compile_commands.json")
    if not os.path.exists(db_path):
        problems.append(f"{db_path} is missing: build first (deploy/dev.sh build)")
        return
    with open(db_path, encoding="utf-8") as f:
        commands = {os.path.relpath(e["file"], os.getcwd()): e for e in json.load(f)}
    for path in PURE:
        entry = commands.get(path)
        if entry is None:
            problems.append(f"{path}: not in {db_path} (renamed? update PURE in this script)")
            continue
        args = entry.get("arguments") or shlex.split(entry["command"])
        cut = []
        skip = False
        for a in args:
            if skip:
                skip = False
                continue
            if a in ("-o", "-c"):
                skip = a == "-o"
                continue
            cut.append(a)
        deps = subprocess.run(cut + ["-M", "-MF", "/dev/stdout"], cwd=entry["directory"],
                              capture_output=True, text=True)
        if deps.returncode != 0:
            problems.append(f"{path}: could not list its headers: {deps.stderr.strip()[:200]}")
            continue
        asio = sorted({d for d in deps.stdout.split() if "/boost/asio" in d})
        if asio:
            problems.append(f"{path}: pure code pulls in Asio ({len(asio)} headers, e.g. "
                            f"{asio[0]})")


def check_sizes(problems):
    for path in tracked("bot"):
        with open(path, encoding="utf-8") as f:
            lines = sum(1 for _ in f)
        limit = MAX_CPP if path.endswith(".cpp") else MAX_HPP
        if lines > limit:
            problems.append(f"{path}: {lines} lines, more than {limit}: split it by "
                            "responsibility")


def main(argv):
    build = argv[1] if len(argv) > 1 else "build"
    problems = []
    check_direction(problems)
    check_sizes(problems)
    check_pure(build, problems)
    for p in problems:
        print(p)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
