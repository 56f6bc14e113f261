"""values.schema.json describes every key, and a key's description is the values.yaml comment
that documents it: values.yaml is the source (helm-docs makes the README from it too), the
schema a copy this test holds equal. Only the sections, which values.yaml leaves uncommented,
are described in the schema alone."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import chart_tools as ct

SCHEMA: dict[str, Any] = json.loads((ct.CHART_DIR / "values.schema.json").read_text())
VALUES_TEXT = (ct.CHART_DIR / "values.yaml").read_text()
# helm-docs' `# dotted.key -- text` comment; a leading `(int)` is its type hint, not text.
DOC_COMMENT = re.compile(r"# (?P<key>\S+) -- (?:\(\w+\) )?(?P<text>.*)")
KEY_LINE = re.compile(r"(?P<indent> *)(?P<key>\w+):")


def values_comments() -> dict[str, str]:
    """Dotted key -> the comment block right above its line, lines joined as helm-docs does."""
    comments: dict[str, str] = {}
    block: list[str] = []
    parents: list[tuple[int, str]] = []  # (indent, key) of the line's enclosing keys
    for line in VALUES_TEXT.splitlines():
        if line.lstrip().startswith("#"):
            block.append(line.strip())
            continue
        if found := KEY_LINE.match(line):
            indent = len(found["indent"])
            parents = [(i, k) for i, k in parents if i < indent] + [(indent, found["key"])]
            key = ".".join(k for _, k in parents)
            if block and (doc := DOC_COMMENT.fullmatch(block[0])):
                assert doc["key"] == key, f"the comment above {key} names {doc['key']}"
                rest = [more.removeprefix("#").strip() for more in block[1:]]
                comments[key] = " ".join([doc["text"], *rest])
        block = []  # a blank line or a list item ends a comment block
    return comments


def schema_properties(
    node: dict[str, Any] = SCHEMA, prefix: str = ""
) -> Iterator[tuple[str, dict[str, Any]]]:
    """(dotted key, schema node) of every property, through `$ref`s to the definitions."""
    for key, sub in node.get("properties", {}).items():
        if "$ref" in sub:
            sub = {**SCHEMA["definitions"][sub["$ref"].split("/")[-1]], **sub}
        yield f"{prefix}{key}", sub
        yield from schema_properties(sub, f"{prefix}{key}.")


def test_every_doc_comment_documents_the_key_below_it() -> None:
    doc_lines = [line for line in VALUES_TEXT.splitlines() if DOC_COMMENT.match(line.strip())]

    assert len(values_comments()) == len(doc_lines) > 100


def test_schema_describes_every_key() -> None:
    missing = [key for key, node in schema_properties() if not node.get("description")]

    assert missing == []


def test_schema_descriptions_are_the_values_comments() -> None:
    schema = dict(schema_properties())
    differing = {
        key: text
        for key, text in values_comments().items()
        if schema.get(key, {}).get("description") != text
    }

    assert differing == {}, "values.yaml is the source; set these descriptions in the schema:\n" + (
        "\n".join(f"{key}: {json.dumps(text)}" for key, text in differing.items())
    )


def test_only_sections_are_described_in_the_schema_alone() -> None:
    """Keys values.yaml leaves uncommented are sections (their keys are commented) and Helm's
    `global`: every other description comes from values.yaml."""
    comments = values_comments()
    uncommented = [
        key
        for key, node in schema_properties()
        if key not in comments and node.get("type") != "object"
    ]

    assert uncommented == []
