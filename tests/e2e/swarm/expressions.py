"""The Terraform expressions the synthesized JSON holds, evaluated as Terraform evaluates them.

Terraform itself cannot evaluate them here: they reference resources only a provider can
create. So this module parses the subset the stacks use — string templates (``"a-${x}"``),
string/number/bool literals, objects (``{"k" = v}``), tuples, references
(``random_password.x.result``, ``data.y.z.data["k"]``) and the functions ``base64encode``,
``jsonencode``, ``format``, ``sha256`` and ``substr`` — and evaluates them with the values a
``resolve`` callback gives each reference. Anything else raises ``ExpressionError``, naming
it, so a new function in the stacks stops the rehearsal instead of being guessed at.

It is a stand-in for Terraform's evaluator, written here; ``test_swarm.py`` checks it against
the real one (``terraform console``) on every expression of the synthesized stacks whenever a
``terraform`` binary is on PATH.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Reference = tuple[str, ...]
Resolver = Callable[[Reference], Any]


class ExpressionError(ValueError):
    pass


@dataclass
class _Token:
    kind: str  # name, number, string, punct
    value: Any
    position: int


_PUNCT = set("(){}[],.=")
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def _read_string(text: str, start: int) -> tuple[list[Any], int]:
    """A quoted HCL string at ``text[start] == '"'``: its parts (str, or a nested expression
    source for ``${...}``) and the index after the closing quote."""
    parts: list[Any] = []
    buffer = []
    i = start + 1
    escapes = {"n": "\n", "t": "\t", "r": "\r", '"': '"', "\\": "\\"}
    while i < len(text):
        char = text[i]
        if char == '"':
            parts.append("".join(buffer))
            return parts, i + 1
        if char == "\\":
            following = text[i + 1]
            if following == "u":
                buffer.append(chr(int(text[i + 2 : i + 6], 16)))
                i += 6
                continue
            if following not in escapes:
                raise ExpressionError(f"unknown escape \\{following} at {i}")
            buffer.append(escapes[following])
            i += 2
            continue
        if text.startswith("$${", i):
            buffer.append("${")
            i += 3
            continue
        if text.startswith("${", i):
            parts.append("".join(buffer))
            buffer = []
            end = _matching_brace(text, i + 1)
            parts.append(_Nested(text[i + 2 : end]))
            i = end + 1
            continue
        buffer.append(char)
        i += 1
    raise ExpressionError("unterminated string")


@dataclass(frozen=True)
class _Nested:
    source: str


def _matching_brace(text: str, open_index: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_index``, skipping strings."""
    depth, i = 0, open_index
    while i < len(text):
        char = text[i]
        if char == '"':
            _, i = _read_string(text, i)
            continue
        if char == "{":
            depth += 1
        elif char == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    raise ExpressionError("unbalanced braces")


def _tokens(source: str) -> list[_Token]:
    tokens, i = [], 0
    while i < len(source):
        char = source[i]
        if char.isspace():
            i += 1
        elif char == '"':
            parts, end = _read_string(source, i)
            tokens.append(_Token("string", parts, i))
            i = end
        elif char in _PUNCT:
            tokens.append(_Token("punct", char, i))
            i += 1
        elif match := _NUMBER.match(source, i):
            tokens.append(_Token("number", match[0], i))
            i = match.end()
        elif match := _NAME.match(source, i):
            tokens.append(_Token("name", match[0], i))
            i = match.end()
        else:
            raise ExpressionError(f"unexpected {char!r} at {i} in {source[:60]!r}")
    return tokens


class _Parser:
    def __init__(self, source: str, resolve: Resolver) -> None:
        self.tokens = _tokens(source)
        self.index = 0
        self.resolve = resolve
        self.source = source
        # (start, end, path) of each reference, in source order.
        self.spans: list[tuple[int, int, Reference]] = []

    def peek(self, value: str | None = None) -> _Token | None:
        token = self.tokens[self.index] if self.index < len(self.tokens) else None
        if value is not None and (token is None or token.value != value):
            return None
        return token

    def take(self, value: str | None = None) -> _Token:
        token = self.peek()
        if token is None or (value is not None and token.value != value):
            found = token.value if token else "the end"
            raise ExpressionError(
                f"expected {value or 'a value'}, found {found!r} in {self.source[:80]!r}"
            )
        self.index += 1
        return token

    def expression(self) -> Any:
        token = self.take()
        if token.kind == "string":
            return _render(token.value, self.resolve)
        if token.kind == "number":
            return float(token.value) if "." in token.value else int(token.value)
        if token.value == "{":
            return self.object()
        if token.value == "[":
            return self.tuple()
        if token.kind == "name":
            if token.value in ("true", "false"):
                return token.value == "true"
            if token.value == "null":
                return None
            if self.peek("("):
                return self.call(token.value)
            return self.reference(token.value)
        raise ExpressionError(f"unexpected {token.value!r} in {self.source[:80]!r}")

    def object(self) -> dict:
        result = {}
        while not self.peek("}"):
            key_token = self.take()
            if key_token.kind == "string":
                key = _render(key_token.value, self.resolve)
            elif key_token.kind == "name":
                key = key_token.value
            else:
                raise ExpressionError(f"bad object key {key_token.value!r}")
            self.take("=")
            result[key] = self.expression()
            if self.peek(","):
                self.take(",")
        self.take("}")
        return result

    def tuple(self) -> list:
        items = []
        while not self.peek("]"):
            items.append(self.expression())
            if self.peek(","):
                self.take(",")
        self.take("]")
        return items

    def call(self, name: str) -> Any:
        self.take("(")
        arguments = []
        while not self.peek(")"):
            arguments.append(self.expression())
            if self.peek(","):
                self.take(",")
        self.take(")")
        function = FUNCTIONS.get(name)
        if function is None:
            raise ExpressionError(f"function {name}() is not known to the rehearsal's evaluator")
        return function(*arguments)

    def reference(self, first: str) -> Any:
        path = [first]
        start = self.tokens[self.index - 1].position
        end = start + len(first)
        while True:
            if self.peek("."):
                self.take(".")
                token = self.take()
                path.append(token.value)
                end = token.position + len(str(token.value))
            elif self.peek("["):
                self.take("[")
                key = self.expression()
                end = self.take("]").position + 1
                path.append(str(key))
            else:
                self.spans.append((start, end, tuple(path)))
                return self.resolve(tuple(path))


def _render(parts: list[Any], resolve: Resolver) -> Any:
    """A string template: its literal parts and its ``${...}`` parts, joined. A template that
    is exactly one interpolation keeps the value's own type, as Terraform's does."""
    if len(parts) == 3 and parts[0] == "" and parts[2] == "" and isinstance(parts[1], _Nested):
        return evaluate_expression(parts[1].source, resolve)
    return "".join(
        _as_string(evaluate_expression(p.source, resolve)) if isinstance(p, _Nested) else p
        for p in parts
    )


def _as_string(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, str)):
        return str(value)
    raise ExpressionError(f"cannot interpolate {type(value).__name__} into a string")


def evaluate_expression(source: str, resolve: Resolver) -> Any:
    parser = _Parser(source, resolve)
    value = parser.expression()
    if parser.peek() is not None:
        raise ExpressionError(f"unexpected {parser.peek().value!r} in {source[:80]!r}")
    return value


def interpolations(value: str) -> list[str]:
    """The source of each top-level ``${...}`` of a string from the synthesized JSON."""
    sources, i = [], 0
    while i < len(value):
        if value.startswith("$${", i):
            i += 3
        elif value.startswith("${", i):
            end = _matching_brace(value, i + 1)
            sources.append(value[i + 2 : end])
            i = end + 1
        else:
            i += 1
    return sources


def with_references_replaced(source: str, replace: Callable[[Reference], str]) -> str:
    """``source`` with each reference's text replaced by ``replace(reference)``: to hand the
    same expression to another evaluator (``terraform console``) with values it knows."""
    parser = _Parser(source, lambda reference: "x")
    parser.expression()
    for start, end, path in sorted(parser.spans, reverse=True):
        source = source[:start] + replace(path) + source[end:]
    return source


def evaluate_string(value: str, resolve: Resolver) -> Any:
    """A string from the synthesized JSON: a template whose literal text is taken as it is
    (JSON has already decoded its escapes) and whose ``${...}`` parts are expressions."""
    parts: list[Any] = []
    literal, i = [], 0
    while i < len(value):
        if value.startswith("$${", i):
            literal.append("${")
            i += 3
        elif value.startswith("${", i):
            end = _matching_brace(value, i + 1)
            parts += ["".join(literal), _Nested(value[i + 2 : end])]
            literal, i = [], end + 1
        else:
            literal.append(value[i])
            i += 1
    parts.append("".join(literal))
    return _render(parts, resolve)


def evaluate_document(value: Any, resolve: Resolver) -> Any:
    """Every string in a JSON value, evaluated."""
    if isinstance(value, str):
        return evaluate_string(value, resolve)
    if isinstance(value, list):
        return [evaluate_document(item, resolve) for item in value]
    if isinstance(value, dict):
        return {key: evaluate_document(item, resolve) for key, item in value.items()}
    return value


# --- the functions, as Terraform defines them --------------------------------------------


def _jsonencode(value: Any) -> str:
    # Terraform's jsonencode: object keys sorted (cty objects are ordered by attribute name),
    # no spaces, and Go's encoding/json HTML escaping of <, > and &.
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    for char, escape in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(char, escape)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def _format(spec: str, *arguments: Any) -> str:
    values = iter(arguments)

    def replace(match: re.Match) -> str:
        verb = match[1]
        if verb == "%":
            return "%"
        if verb in ("s", "d"):
            return _as_string(next(values))
        raise ExpressionError(f"format verb %{verb} is not known to the rehearsal's evaluator")

    return re.sub(r"%(.)", replace, spec)


def _substr(text: str, offset: int, length: int) -> str:
    return text[offset:] if length == -1 else text[offset : offset + length]


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "base64encode": lambda text: base64.b64encode(text.encode()).decode(),
    "jsonencode": _jsonencode,
    "format": _format,
    "sha256": lambda text: hashlib.sha256(text.encode()).hexdigest(),
    "substr": _substr,
    # Go's url.QueryEscape: everything but letters, digits and -_.~ escaped, space as "+".
    "urlencode": lambda text: urllib.parse.quote_plus(text, safe="-_.~"),
}
