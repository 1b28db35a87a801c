"""A small reader of the page's HTML for the tests: elements with their attributes and text."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    children: list[Element | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def all(self, attr: str | None = None, tag: str | None = None) -> list[Element]:
        """Every element below (and including) this one with the attribute and/or tag."""
        found = [] if (attr and attr not in self.attrs) or (tag and self.tag != tag) else [self]
        for child in self.children:
            if isinstance(child, Element):
                found += child.all(attr, tag)
        return found

    def figures(self) -> dict[str, int]:
        """The numbers marked `data-figure` below this element."""
        return {e.attrs["data-figure"]: int(e.text.strip()) for e in self.all("data-figure")}


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = Element("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag, attrs):
        element = Element(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(element)
        if tag not in VOID:
            self.stack.append(element)

    def handle_startendtag(self, tag, attrs):
        self.stack[-1].children.append(Element(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag):
        for n in range(len(self.stack) - 1, 0, -1):
            if self.stack[n].tag == tag:
                del self.stack[n:]
                return

    def handle_data(self, data):
        self.stack[-1].children.append(data)


def parse(html: str) -> Element:
    builder = _Builder()
    builder.feed(html)
    builder.close()
    return builder.root


def visible_text(html: str) -> str:
    """The text a person reads: no tags, no attributes, no script or style, and of a closed
    `<details>` only its summary (the technical details are there for who opens them)."""
    root = parse(html)

    def walk(element: Element) -> str:
        if element.tag in ("script", "style", "title"):
            return ""
        children = element.children
        if element.tag == "details" and "open" not in element.attrs:
            children = [c for c in children if isinstance(c, Element) and c.tag == "summary"]
        return " ".join(c if isinstance(c, str) else walk(c) for c in children)

    return " ".join(walk(root).split())
