#!/usr/bin/env python3
"""Offline checks of the docs (`make check`):

1. every relative link in README.md and docs/**/*.md resolves: the file (or directory) exists,
   and a `#fragment` names a heading of the target Markdown file (GitHub's anchor rules);
2. README.md stays at most 200 lines;
3. docs/api/README.md lists exactly the operations of infra/openapi.yaml (method + path), so
   the API reference cannot drift from the contract the tests validate responses against.

Exit status 1 with one line per problem. No network: http(s) links are not followed.
"""
import pathlib
import re
import sys

import yaml

ROOT = pathlib.Path(__file__).resolve().parent.parent
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
FENCE = re.compile(r"^(```|~~~)")
HTTP_METHODS = ("get", "put", "post", "delete", "patch", "head", "options")


def slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, markup and punctuation dropped, spaces to '-'."""
    text = re.sub(r"`([^`]*)`", r"\1", heading.strip())
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = text.lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def headings(path: pathlib.Path) -> set:
    seen: dict = {}
    anchors = set()
    in_fence = False
    for line in path.read_text(encoding="utf-8").splitlines():
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        m = re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            base = slug(m.group(2))
            n = seen.get(base, 0)
            seen[base] = n + 1
            anchors.add(base if n == 0 else f"{base}-{n}")
    return anchors


def links(path: pathlib.Path):
    in_fence = False
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if FENCE.match(line):
            in_fence = not in_fence
            continue
        if in_fence:
            continue
        line = re.sub(r"`[^`]*`", "``", line)  # links inside code spans are not links
        for m in LINK.finditer(line):
            yield number, m.group(1)


def check_links(files) -> list:
    problems = []
    for md in files:
        for number, target in links(md):
            if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
                continue
            file_part, _, fragment = target.partition("#")
            dest = md if not file_part else (md.parent / file_part).resolve()
            where = f"{md.relative_to(ROOT)}:{number}"
            if not dest.exists():
                problems.append(f"{where}: broken link {target!r} ({dest.relative_to(ROOT) if ROOT in dest.parents else dest} does not exist)")
                continue
            if fragment and dest.suffix == ".md" and fragment not in headings(dest):
                problems.append(f"{where}: {target!r}: no heading with anchor #{fragment} in {dest.relative_to(ROOT)}")
    return problems


def check_api_reference() -> list:
    spec = yaml.safe_load((ROOT / "infra/openapi.yaml").read_text(encoding="utf-8"))
    documented = set()
    for path, item in spec["paths"].items():
        for method in HTTP_METHODS:
            if method in item:
                documented.add((method.upper(), path))
    listed = set()
    reference = ROOT / "docs/api/README.md"
    for line in reference.read_text(encoding="utf-8").splitlines():
        m = re.match(r"^\|\s*`(GET|PUT|POST|DELETE|PATCH|HEAD|OPTIONS)`\s*\|\s*`([^`]+)`\s*\|", line)
        if m:
            listed.add((m.group(1), m.group(2)))
    problems = [f"docs/api/README.md: {m} {p} is in infra/openapi.yaml but not listed" for m, p in sorted(documented - listed)]
    problems += [f"docs/api/README.md: {m} {p} is listed but not in infra/openapi.yaml" for m, p in sorted(listed - documented)]
    return problems


def main() -> int:
    files = [ROOT / "README.md"] + sorted((ROOT / "docs").rglob("*.md"))
    problems = check_links(files)
    readme_lines = len((ROOT / "README.md").read_text(encoding="utf-8").splitlines())
    if readme_lines > 200:
        problems.append(f"README.md: {readme_lines} lines; keep it at most 200 (move detail under docs/)")
    problems += check_api_reference()
    for p in problems:
        print(p)
    if problems:
        return 1
    print(f"docs: {len(files)} Markdown files, every relative link resolves; README {readme_lines} lines; API reference = infra/openapi.yaml")
    return 0


if __name__ == "__main__":
    sys.exit(main())
