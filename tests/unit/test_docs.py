"""The docs/ pages are the specification: every citation of them resolves.

Code, tests and benchmarks cite a rule as ``docs/<page>.md#<heading>``; a
renamed heading or page must fail here, not leave a dangling pointer. The
old design guide outside the repository is no longer cited anywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
SOURCE_DIRS = ("tracker", "tests", "bench", "deploy")
TOP_LEVEL_PAGES = ("README.md", "RELIABILITY.md", "BENCHMARKS.md", "PRIVACY.md", "SECURITY.md")
TEXT_SUFFIXES = {".py", ".md", ".yml", ".yaml", ".json", ".js", ".html", ".sh", ".toml", ".txt"}
# Split so that this file does not cite what it forbids.
OLD_GUIDE = re.compile(r"\b" + "GUI" + r"DE\b|shared/" + "GUI" + "DE")
CITATION = re.compile(r"\bdocs/([\w\-]+\.md)(?:#([\w\-]+))?")
MARKDOWN_LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def text_files(*roots: str) -> Iterator[Path]:
    for root in roots:
        for path in sorted((ROOT / root).rglob("*")):
            if path.suffix in TEXT_SUFFIXES and "__pycache__" not in path.parts:
                yield path


def github_slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces to '-'."""
    text = re.sub(r"[^\w\- ]", "", heading.lower())
    return text.replace(" ", "-")


@cache
def anchors(page: Path) -> frozenset[str]:
    """Every heading anchor of a Markdown page, repeated headings numbered as GitHub does."""
    seen: dict[str, int] = {}
    found = set()
    fenced = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.lstrip().startswith("```"):
            fenced = not fenced
            continue
        match = None if fenced else HEADING.match(line)
        if match:
            slug = github_slug(match[2])
            count = seen.get(slug, 0)
            seen[slug] = count + 1
            found.add(slug if count == 0 else f"{slug}-{count}")
    return frozenset(found)


def test_github_slug_matches_githubs_anchors() -> None:
    assert github_slug("Order of checks") == "order-of-checks"
    assert github_slug("Wire contract, schema_version 1") == "wire-contract-schema_version-1"
    assert github_slug("Identity: anonymous device → known customer") == (
        "identity-anonymous-device--known-customer"
    )
    assert github_slug("`tracker_reach` gauges") == "tracker_reach-gauges"


def test_repeated_headings_are_numbered(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n## Counters\n```\n# not a heading\n```\n### Counters\n")
    assert anchors(page) == {"title", "counters", "counters-1"}


def test_nothing_cites_the_old_design_guide() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}: {line.strip()}"
        for path in text_files(*SOURCE_DIRS)
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OLD_GUIDE.search(line)
    ]
    assert not offenders, "cite docs/<page>.md#<heading> instead:\n" + "\n".join(offenders)


def _citations() -> Iterator[tuple[str, str, str | None]]:
    sources = [*text_files(*SOURCE_DIRS), *(ROOT / name for name in TOP_LEVEL_PAGES)]
    for path in sources:
        for match in CITATION.finditer(path.read_text(encoding="utf-8")):
            yield str(path.relative_to(ROOT)), match[1], match[2]


def test_there_are_citations_to_check() -> None:
    cited = {page for _, page, _ in _citations()}
    assert {"contract.md", "metrics.md"} <= cited


@pytest.mark.parametrize(("source", "page", "anchor"), sorted(set(_citations()), key=str))
def test_every_cited_page_and_heading_exists(source: str, page: str, anchor: str | None) -> None:
    target = DOCS / page
    assert target.is_file(), f"{source} cites docs/{page}, which does not exist"
    if anchor is not None:
        assert anchor in anchors(target), f"{source} cites docs/{page}#{anchor}: no such heading"


def _markdown_links() -> Iterator[tuple[Path, str]]:
    pages = [*sorted(DOCS.glob("*.md")), *(ROOT / name for name in TOP_LEVEL_PAGES)]
    for page in [*pages, ROOT / "deploy" / "README.md"]:
        for match in MARKDOWN_LINK.finditer(page.read_text(encoding="utf-8")):
            link = match[1]
            if not re.match(r"[a-z]+:", link):  # local links only, not https: or mailto:
                yield page, link


def test_local_markdown_links_resolve() -> None:
    broken = []
    for page, link in _markdown_links():
        path_part, _, anchor = link.partition("#")
        target = (page.parent / path_part).resolve() if path_part else page
        if not target.exists():
            broken.append(f"{page.relative_to(ROOT)}: {link} (no such file)")
        elif anchor and target.suffix == ".md" and anchor not in anchors(target):
            broken.append(f"{page.relative_to(ROOT)}: {link} (no such heading)")
    assert not broken, "\n".join(broken)


def test_the_index_lists_every_page_and_planned_pages_say_so_first() -> None:
    index = (DOCS / "README.md").read_text(encoding="utf-8")
    for page in sorted(DOCS.glob("*.md")):
        if page.name == "README.md":
            continue
        row = next((line for line in index.splitlines() if f"]({page.name})" in line), None)
        assert row is not None, f"docs/README.md does not list {page.name}"
        if "*planned*" in row:
            first_paragraph = page.read_text(encoding="utf-8").split("\n\n")[1]
            assert first_paragraph.startswith("**Planned"), page.name
