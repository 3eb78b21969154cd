"""YAML and JSON text -> plain data, refusing what a hostile or careless file can do.

Refused, each with a located message (raised as `DocumentError`): duplicate keys in a
mapping (the last would silently win), alias bombs (anchors whose expansion is far larger
than the text), nesting deeper than MAX_DEPTH (Python would run out of stack), integers
with more than MAX_DIGITS digits. Numbers are decimal only: YAML 1.1's `1_000`, `0x1F`,
`0o17` and `1:30` (base 60) stay text and are then rejected where a number is expected.
"""

from __future__ import annotations

import json
import re
from typing import Any

import yaml

MAX_DEPTH = 100  # instance files are a few levels deep; far below Python's stack limit
MAX_NODES = 2_000_000  # values in the document with every alias expanded
MAX_DIGITS = 400  # a float holds up to 309 digits; more is a typo or an attack


class DocumentError(ValueError):
    """The text is not an acceptable document; `line` is 1-based where known."""

    def __init__(self, message: str, line: int | None = None):
        self.line = line
        super().__init__(f"{message} at line {line}" if line else message)


# -- YAML ---------------------------------------------------------------------------------

_DECIMAL_INT = re.compile(r"^[-+]?[0-9]+$")
_DECIMAL_FLOAT = re.compile(r"""^(?:[-+]?(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?
                               |[-+]?\.(?:inf|Inf|INF)
                               |\.(?:nan|NaN|NAN))$""", re.X)


class _Loader(yaml.SafeLoader):
    """SafeLoader with decimal-only numbers and limits on depth, aliases and duplicates."""

    def __init__(self, stream):
        super().__init__(stream)
        self._depth = 0

    def compose_node(self, parent, index):
        self._depth += 1
        try:
            if self._depth > MAX_DEPTH:
                raise DocumentError(f"nested more than {MAX_DEPTH} levels deep", self.peek_event().start_mark.line + 1)
            return super().compose_node(parent, index)
        finally:
            self._depth -= 1

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                    continue
                key = key_node.value
                line = key_node.start_mark.line + 1
                if key in seen:
                    raise DocumentError(f"key '{key}' appears twice in one mapping (lines {seen[key]} and {line}); "
                                        "keep one", line)
                seen[key] = line
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_int(self, node):
        digits = node.value.lstrip("+-")
        if len(digits) > MAX_DIGITS:
            raise DocumentError(f"a number with {len(digits)} digits is too large", node.start_mark.line + 1)
        return int(node.value)


    def construct_yaml_timestamp(self, node):
        try:
            return super().construct_yaml_timestamp(node)
        except (ValueError, OverflowError):
            raise DocumentError(f"'{node.value}' is not a date (YYYY-MM-DD)", node.start_mark.line + 1) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _Loader.construct_yaml_int)
_Loader.add_constructor("tag:yaml.org,2002:timestamp", _Loader.construct_yaml_timestamp)
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in ("tag:yaml.org,2002:int", "tag:yaml.org,2002:float")]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _DECIMAL_INT, list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _DECIMAL_FLOAT, list("-+0123456789."))


def _expanded_size(root) -> int:
    """Nodes in the document with every alias expanded (shared nodes counted each time)."""
    sizes: dict[int, int] = {}

    def size(node) -> int:
        known = sizes.get(id(node))
        if known is not None:
            return known
        sizes[id(node)] = 1  # a recursive alias counts once instead of looping
        if isinstance(node, yaml.SequenceNode):
            total = 1 + sum(size(n) for n in node.value)
        elif isinstance(node, yaml.MappingNode):
            total = 1 + sum(size(k) + size(v) for k, v in node.value)
        else:
            total = 1
        sizes[id(node)] = total = min(total, MAX_NODES + 1)
        return total

    return size(root)


def parse_yaml(text: str) -> Any:
    """YAML text -> plain data; raises DocumentError (or yaml.YAMLError for syntax)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        if _expanded_size(node) > MAX_NODES:
            raise DocumentError(f"anchors and aliases expand to more than {MAX_NODES:,} values; "
                                "write the data out instead of repeating aliases")
        return loader.construct_document(node)
    except RecursionError:
        raise DocumentError(f"nested more than {MAX_DEPTH} levels deep") from None
    finally:
        loader.dispose()


# -- JSON ---------------------------------------------------------------------------------


def _line_of(text: str, key: str, nth: int) -> int | None:
    hits = [m.start() for m in re.finditer(re.escape(json.dumps(key)) + r"\s*:", text)]
    return text.count("\n", 0, hits[nth]) + 1 if len(hits) > nth else None


def parse_json(text: str) -> Any:
    """JSON text -> plain data; raises DocumentError (or json.JSONDecodeError for syntax)."""

    def pairs(items):
        out = {}
        for key, value in items:
            if key in out:
                first, second = _line_of(text, key, 0), _line_of(text, key, 1)
                lines = f" (lines {first} and {second})" if first and second else ""
                raise DocumentError(f"key '{key}' appears twice in one object{lines}; keep one", second)
            out[key] = value
        return out

    def integer(digits: str) -> int:
        if len(digits.lstrip("-")) > MAX_DIGITS:
            raise DocumentError(f"a number with {len(digits.lstrip('-'))} digits is too large")
        return int(digits)

    depth = _json_depth(text)
    if depth > MAX_DEPTH:
        raise DocumentError(f"nested more than {MAX_DEPTH} levels deep")
    try:
        return json.loads(text, object_pairs_hook=pairs, parse_int=integer)
    except RecursionError:
        raise DocumentError(f"nested more than {MAX_DEPTH} levels deep") from None


def _json_depth(text: str) -> int:
    """Deepest bracket nesting outside strings (a cheap scan before the recursive parser)."""
    if "[" not in text and "{" not in text:
        return 0
    depth = deepest = 0
    brackets = re.sub(r'[^\[\]{}]+', "", re.sub(r'"(?:[^"\\]|\\.)*"', "", text))
    for char in brackets:
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest
