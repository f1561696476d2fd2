"""Citations a reader can follow: no tracked source or doc file cites a source document by its
numbered file in the project's working folder ("seed 000"), a tracker issue number ("issue 8") or the
design guide outside the repository ("DESIGN.md"). Cite instead the JunosE / Huawei document by title
and table (docs/architecture.md "Source documents"), the RFC by number and section, or the convention
in docs/architecture.md by its heading."""
from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# Built from pieces so that this file does not match itself.
PATTERNS = {
    "numbered seed document": re.compile(r"\bseeds? 00[0-9]\b", re.IGNORECASE),
    "issue number": re.compile(r"\bissues? #?[0-9]+\b", re.IGNORECASE),
    "design guide outside the repository": re.compile("DESIGN" + r"\.md"),
}

# Files whose text is data, not prose: libFuzzer corpus inputs are byte strings the fuzzers start
# from (copies of configuration files taken before the citations were rewritten); editing them would
# change what the fuzzers run.
ALLOWED_PREFIXES = ("lns/core/fuzz/corpus/",)
TEXT_SUFFIXES = {".cpp", ".hpp", ".h", ".c", ".py", ".md", ".yaml", ".yml", ".txt", ".ini", ".cmake",
                 ".toml", ".cfg", ".json", ".sh", ""}


def tracked_text_files() -> list[Path]:
    """The repository's tracked files (git ls-files), text ones only, allow-list removed."""
    out = subprocess.run(["git", "-C", str(ROOT), "ls-files", "-z"], check=True,
                         capture_output=True).stdout.decode()
    files = []
    for rel in filter(None, out.split("\0")):
        if rel.startswith(ALLOWED_PREFIXES) or rel == "tests/unit_py/test_citations.py":
            continue
        path = ROOT / rel
        if path.suffix not in TEXT_SUFFIXES or not path.is_file():
            continue
        files.append(path)
    return files


def find_citations(text: str) -> list[tuple[int, str, str]]:
    """(line number, kind, matched text) of every forbidden citation in `text`."""
    hits = []
    for n, line in enumerate(text.splitlines(), 1):
        for kind, rx in PATTERNS.items():
            for m in rx.finditer(line):
                hits.append((n, kind, m.group(0)))
    return hits


def test_the_patterns_catch_each_kind_and_spare_what_a_reader_can_open():
    bad = 'seed 000 Table 74; (issue 8 "Performance"); see DESIGN' + '.md §5 "Timers"; Seeds 003/004'
    kinds = sorted({k for _, k, _ in find_citations(bad)})
    assert kinds == sorted(PATTERNS)
    good = ('JunosE "L2TP Dial-Out" Table 74; RFC 2661 §5.8; docs/architecture.md "Timers registry"; '
            "https://github.com/xelerance/xl2tpd/issues/163; seeded probability; the seed corpora")
    assert find_citations(good) == []


def test_no_tracked_file_cites_what_a_reader_cannot_open():
    files = tracked_text_files()
    assert len(files) > 100, "git ls-files found too few files: not run from the checkout?"
    found = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        for n, kind, match in find_citations(text):
            found.append(f"{path.relative_to(ROOT)}:{n}: {kind}: {match!r}")
    assert not found, ("cite the document by title and table, the RFC and section, or "
                       "docs/architecture.md by heading:\n" + "\n".join(found))
