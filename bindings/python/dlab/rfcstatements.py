"""The normative statements of RFC 2661, listed from the RFC text itself.

How statements are found (so that a statement without a row in docs/requirements.yaml is a failing
check, tests/unit_py/test_rfc_catalogue.py):

1. The page furniture is removed (the "Townsley, et al. ... [Page N]" footer, the form feed and the
   "RFC 2661 L2TP August 1999" header); a paragraph cut by a page break is joined again when the
   line before the break does not end a sentence.
2. Section headings are lines starting in column 0 with a section number ("4.4.3 ...", "5.0 ..."
   becomes "5") or "Appendix X:". In §4.4.1-§4.4.6, an AVP entry starts with a line indented three
   spaces that reads "Name (Message, Message)"; statements inside carry the AVP's name.
3. Paragraphs (blank-line separated) are split into sentences after ".", ";" or ":" followed by a
   capital or "(". Every sentence holding an upper-case RFC 2119 keyword is one statement; §1.1
   (which defines the keywords) is skipped. Class MUST: MUST, MUST NOT, REQUIRED, SHALL, SHALL NOT;
   class SHOULD: SHOULD, SHOULD NOT, RECOMMENDED (MAY / OPTIONAL are not statements a peer can fail).
4. Ids are stable as long as the RFC text is: ``RFC2661.<section>-<n>`` (n counts the section's
   statements from 1), inside an AVP entry ``RFC2661.<section>-<avp-slug>-<n>``; the per-AVP rules of
   §4.4 get fixed suffixes: ``-M`` for "The M-bit for this AVP MUST be set to 0/1" and ``-H`` for
   "This AVP MUST NOT be hidden (the H-bit MUST be 0)".

`statements()` returns them in RFC order; ``python3 -m dlab.rfcstatements`` prints them (``--yaml``
prints a skeleton row for each statement docs/requirements.yaml lacks).
"""
from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[3]
RFC_TEXT = REPO / "docs" / "refs" / "rfc2661.txt"  # the RFC as published (rfc-editor.org/rfc/rfc2661.txt)

MUST_WORDS = ("MUST NOT", "MUST", "REQUIRED", "SHALL NOT", "SHALL")
SHOULD_WORDS = ("SHOULD NOT", "SHOULD", "RECOMMENDED")
KEYWORD = re.compile(r"\b(MUST NOT|MUST|REQUIRED|SHALL NOT|SHALL|SHOULD NOT|SHOULD|RECOMMENDED)\b")
HEADING = re.compile(r"^(?:(\d+(?:\.\d+)*)\.?\s+\S.*|(Appendix [A-Z]):.*)$")
AVP_ENTRY = re.compile(r"^   ([A-Z(][A-Za-z0-9 ./()-]*?) \(([A-Za-z, ]+)\)\s*$")
FOOTER = re.compile(r"^Townsley, et al\.\s+Standards Track\s+\[Page \d+\]$")
HEADER = re.compile(r"^RFC 2661\s+L2TP\s+August 1999$")
SENTENCE_END = re.compile(r"(?<=[.;:])\s+(?=[A-Z(])")
M_RULE = re.compile(r"^The M-bit (?:for this AVP )?MUST be set to [01](?: for all message types defined in this document)?\.$")
H_RULE = re.compile(r"^This AVP (?:MUST NOT|may not) be hidden \(the H-bit MUST be 0\)\.$")

# Who sends each message (RFC 2661 §6): the role an AVP's M/H rule binds.
SENDERS = {"SCCRQ": {"LAC", "LNS"}, "SCCRP": {"LAC", "LNS"}, "SCCCN": {"LAC", "LNS"},
           "StopCCN": {"LAC", "LNS"}, "HELLO": {"LAC", "LNS"}, "CDN": {"LAC", "LNS"},
           "ICRQ": {"LAC"}, "ICRP": {"LNS"}, "ICCN": {"LAC"}, "OCRQ": {"LNS"}, "OCRP": {"LAC"},
           "OCCN": {"LAC"}, "WEN": {"LAC"}, "SLI": {"LAC", "LNS"}}


@dataclass(frozen=True)
class Statement:
    """One normative sentence: id (stable, see the module docstring), section ("4.4.3"), avp (the AVP
    entry of §4.4 it sits in, or ""), messages (the entry's message list), klass ("MUST"/"SHOULD"),
    kind ("M-bit", "H-bit" or "" for any other statement) and the sentence as the RFC words it."""
    id: str
    section: str
    avp: str
    messages: tuple[str, ...]
    klass: str
    kind: str
    sentence: str

    def avp_role(self) -> str:
        """For an M/H rule: who sends the AVP ("LAC", "LNS" or "both"), from the entry's messages."""
        who: set[str] = set()
        for m in self.messages:
            who |= SENDERS.get(m, {"LAC", "LNS"})
        return "both" if who == {"LAC", "LNS"} or not who else who.pop()


def _slug(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


def _paragraphs(text: str):
    """(section, avp, messages, paragraph text) in RFC order, page furniture removed."""
    lines = [l.lstrip("\f") for l in text.split("\n")]
    # Drop footer/header and the blank lines around them; remember where a page break was.
    clean: list[str | None] = []  # None marks a page break
    i = 0
    while i < len(lines):
        if FOOTER.match(lines[i]):
            while clean and clean[-1] is not None and not clean[-1].strip():
                clean.pop()
            clean.append(None)
            i += 1
            while i < len(lines) and (HEADER.match(lines[i]) or not lines[i].strip()):
                i += 1
            continue
        clean.append(lines[i])
        i += 1
    section, avp, msgs, cur = "0", "", (), []

    def flush():
        if cur:
            out.append((section, avp, msgs, " ".join(cur)))
            cur.clear()
    out: list[tuple[str, str, tuple[str, ...], str]] = []
    for line in clean:
        if line is None:  # a page break ends the paragraph only after a sentence end
            if cur and cur[-1].rstrip().endswith((".", ":")):
                flush()
            continue
        h = HEADING.match(line)
        if h and not line.startswith(" "):
            flush()
            section = h.group(1) or h.group(2)
            section = section[:-2] if section.endswith(".0") else section
            avp, msgs = "", ()
            continue
        a = AVP_ENTRY.match(line)
        if a and section.startswith("4.4."):
            flush()
            avp, msgs = a.group(1), tuple(m.strip() for m in a.group(2).split(","))
            continue
        if not line.strip():
            flush()
            continue
        cur.append(line.strip())
    flush()
    return out


def statements(text: str | None = None) -> list[Statement]:
    """Every normative statement of RFC 2661 in RFC order (see the module docstring for the rules)."""
    text = RFC_TEXT.read_text() if text is None else text
    out: list[Statement] = []
    counters: dict[str, int] = {}
    for section, avp, msgs, para in _paragraphs(text):
        if section in ("1.1", "0"):
            continue
        for sent in SENTENCE_END.split(para):
            words = KEYWORD.findall(sent)
            if not words:
                continue
            klass = "MUST" if any(w in MUST_WORDS for w in words) else "SHOULD"
            base = f"RFC2661.{section}" + (f"-{_slug(avp)}" if avp else "")
            kind = "M-bit" if avp and M_RULE.match(sent) else "H-bit" if avp and H_RULE.match(sent) else ""
            if kind:
                sid = f"{base}-{kind[0]}"
            else:
                counters[base] = counters.get(base, 0) + 1
                sid = f"{base}-{counters[base]}"
            out.append(Statement(sid, section, avp, msgs, klass, kind, sent))
    ids = [s.id for s in out]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise ValueError(f"RFC 2661 statement ids not unique: {sorted(dup)}")
    return out


def attribute_types(text: str | None = None) -> dict[str, int]:
    """AVP entry name of §4.4 ("Host Name") -> its Attribute Type, from "Attribute Type N" in the entry."""
    text = RFC_TEXT.read_text() if text is None else text
    out: dict[str, int] = {}
    for _, avp, _, para in _paragraphs(text):
        m = re.search(r"Attribute Type (\d+)", para)
        if avp and m and avp not in out:
            out[avp] = int(m.group(1))
    return out


def keyword_count(text: str | None = None) -> dict[str, int]:
    """Upper-case RFC 2119 keywords in the statements, by word (MUST NOT counted apart from MUST)."""
    c: dict[str, int] = {}
    for s in statements(text):
        for w in KEYWORD.findall(s.sentence):
            c[w] = c.get(w, 0) + 1
    return c


def skeleton(s: Statement) -> str:
    """A docs/requirements.yaml row for a statement that lacks one (role and text to be written)."""
    role = s.avp_role() if s.kind else "both"
    if s.kind == "M-bit":
        text = f"{s.avp} is sent with the M bit {re.search(r'set to ([01])', s.sentence).group(1)}"
    elif s.kind == "H-bit":
        text = f"{s.avp} is never hidden (H bit 0)"
    else:
        text = "TODO: " + s.sentence
    src = f"RFC 2661 §{s.section}" + (f" {s.avp}" if s.avp else "")
    return f'{s.id}: {{source: "{src}", class: {s.klass}, role: {role}, text: "{text}"}}'


def main(argv: list[str]) -> int:
    sts = statements()
    if "--yaml" in argv:
        import yaml
        reqs = yaml.safe_load((REPO / "docs" / "requirements.yaml").read_text())
        for s in sts:
            if s.id not in reqs:
                print(skeleton(s))
        return 0
    for s in sts:
        print(f"{s.id:40} {s.klass:6} {s.sentence}")
    n_must = sum(1 for s in sts if s.klass == "MUST")
    n_avp = sum(1 for s in sts if s.kind)
    print(f"# {len(sts)} statements: {n_must} MUST, {len(sts) - n_must} SHOULD; {n_avp} per-AVP M/H-bit rules; "
          f"keywords {keyword_count()}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
