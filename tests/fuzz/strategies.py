"""Hypothesis strategies for what strangers send: JSON of every shape, JSON that is not quite JSON,
bytes that are not UTF-8, odd charsets, huge strings, control characters, deep nesting, and
mutations of the payloads the platforms really send (a field removed, or given a value of another
type), so the fuzz reaches past the first shape check into the handlers."""

from __future__ import annotations

import json
from typing import Any, Callable

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Reproducible in CI (derandomize, no example database) and fast: a fuzz test is a property over
# ~100 inputs, not a soak test.
FUZZ = settings(max_examples=100, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.data_too_large, HealthCheck.large_base_example])
FEW = settings(FUZZ, max_examples=50)

# Characters that break naive handling: NUL and other controls, bidi overrides, BOM, the
# replacement character, line and paragraph separators, astral emoji, combining marks.
ODD_CHARS = "\x00\x01\x07\x08\x0b\x0c\x1b\x7f\x85\u200b\u200e\u202e\u2028\u2029\ufeff\ufffd" \
            "\U0001f600\u0301<>&\"'\\%/@#:*_~`|\r\n\t"

utf8_chars = st.characters(codec="utf-8")  # every code point but the surrogates
odd_text = st.text(alphabet=st.one_of(st.sampled_from(ODD_CHARS), utf8_chars), max_size=40)
huge_text = st.builds(lambda ch, n: ch * n, st.sampled_from(["a", "é", "\U0001f600", "\x00", "9"]),
                      st.integers(min_value=1_000, max_value=20_000))
strings = st.one_of(odd_text, st.text(utf8_chars, max_size=20), st.just(""), huge_text)
# JSON can spell what UTF-8 cannot: a lone surrogate ("\\ud800"), valid JSON, invalid text.
lone_surrogates = st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=3)
json_strings = st.one_of(strings, strings, st.builds(lambda a, b: a + b, strings, lone_surrogates))
numbers = st.one_of(st.integers(), st.integers(min_value=2**63 - 2, max_value=2**70),
                    st.integers(min_value=-2**70, max_value=-2**63 + 2),
                    st.floats(allow_nan=False, allow_infinity=False), st.just(-0.0))
scalars = st.one_of(st.none(), st.booleans(), numbers, json_strings)

json_values: st.SearchStrategy[Any] = st.recursive(
    scalars,
    lambda children: st.one_of(st.lists(children, max_size=4),
                               st.dictionaries(json_strings, children, max_size=4)),
    max_leaves=12)


def nested(depth: int, *, inner: str = "1") -> bytes:
    """JSON nested `depth` levels deep (lists and objects alternating), as bytes."""
    opening = "".join('[' if i % 2 else '{"a":' for i in range(depth))
    closing = "".join(']' if i % 2 else '}' for i in reversed(range(depth)))
    return f"{opening}{inner}{closing}".encode()


deep_json = st.builds(nested, st.sampled_from([33, 100, 1_000, 10_000, 100_000]))

# Texts that look like JSON to a lenient parser but are not JSON (or not JSON we accept).
almost_json = st.sampled_from([
    b"", b" ", b"{", b"}", b"[", b"{]", b'{"a":}', b'{"a" 1}', b"{'a': 1}", b'{"a":1,}',
    b"[1,2,,3]", b"NaN", b"Infinity", b'{"a": NaN}', b'{"a": -Infinity}', b"1e999999",
    b"1" * 5000, b'"unterminated', b'{"a": "\\x41"}', b'{"a": "\\ud800"}', b'{"\\udfff": 1}',
    b'["\\ud83d"]', b'{"a": "\\u0000"}', b"\xef\xbb\xbf{}", b"\x00{}", b"{}\x00", b"{} {}",
    b"null", b"true", b"0", b'"just a string"', b"[]", b"{}" * 1000, b"/* c */ {}",
    b'{"__proto__": {"a": 1}}', b'{"a": 1, "a": 2}',
])

invalid_utf8 = st.sampled_from([
    b"\xff", b"\xfe\xff", b"\xc3\x28", b"\xa0\xa1", b"\xe2\x28\xa1", b"\xf0\x28\x8c\xbc",
    b"\xed\xa0\x80", b"\xc0\xaf", b"\xf8\x88\x80\x80\x80", b'{"text": "\xff"}',
    b'{"a": "\xed\xa0\x80"}', "{\"a\": \"é\"}".encode("latin-1"),
    "{\"a\": \"hi\"}".encode("utf-16"), "{\"a\": \"hi\"}".encode("utf-32"),
])

json_bytes = st.builds(lambda v: json.dumps(v).encode(), json_values)
random_bytes = st.binary(max_size=300)

bodies: st.SearchStrategy[bytes] = st.one_of(json_bytes, almost_json, invalid_utf8, deep_json,
                                             random_bytes)

content_types = st.sampled_from([
    None, "", "application/json", "application/json; charset=utf-8",
    "application/json; charset=utf-16", "application/json; charset=latin-1",
    "application/json; charset=x-unknown-42", "application/json; charset=\"", "application/json;;;",
    "text/plain", "application/x-www-form-urlencoded",
    "application/x-www-form-urlencoded; charset=utf-7", "multipart/form-data; boundary=x", "application/xml", "*/*", "garbage",
    "application/json; charset=utf-8; charset=ascii", "APPLICATION/JSON", "\u00e9/\u00e9",
])


# --- mutations of real payloads -----------------------------------------------------------
Path = tuple[Any, ...]


def paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every place in a JSON value (the root too) that a mutation can change."""
    found: list[Path] = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found.extend(paths(child, (*prefix, key)))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found.extend(paths(child, (*prefix, index)))
    return found


def _changed(value: Any, path: Path, change: Callable[[Any], Any]) -> Any:
    if not path:
        return change(value)
    head, rest = path[0], path[1:]
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _changed(value[head], rest, change)
    return copy


_DELETE = object()


def _without_deleted(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _without_deleted(v) for k, v in value.items() if v is not _DELETE}
    if isinstance(value, list):
        return [_without_deleted(v) for v in value if v is not _DELETE]
    return value


def _at(value: Any, path: Path) -> Any:
    for step in path:
        value = value[step]
    return value


def _same_kind(value: Any) -> st.SearchStrategy[Any]:
    """Another value of the same JSON type: odd, huge or empty, but still the expected type."""
    if isinstance(value, bool):
        return st.booleans()
    if isinstance(value, int):
        return st.one_of(st.integers(), numbers.filter(lambda n: isinstance(n, int)))
    if isinstance(value, float):
        return st.floats(allow_nan=False, allow_infinity=False)
    if isinstance(value, str):
        return json_strings
    return json_values


@st.composite
def mutated(draw: st.DrawFn, template: Any, *, max_changes: int = 3) -> Any:
    """`template` with one to `max_changes` places removed or replaced by another JSON value
    (often of another type): what a buggy or hostile sender produces from a real payload."""
    value = template
    for _ in range(draw(st.integers(min_value=1, max_value=max_changes))):
        where = draw(st.sampled_from(paths(value)))
        replacement = draw(st.one_of(st.just(_DELETE), json_values)) if where else \
            draw(json_values)
        value = _without_deleted(_changed(value, where, lambda _, new=replacement: new))
    return value


@st.composite
def oddly_valued(draw: st.DrawFn, template: Any, *, max_changes: int = 4) -> Any:
    """`template` with a few scalars replaced by odd values of the same type (huge ids, control
    characters, empty strings): the shape stays right, so these reach the handlers."""
    value = template
    leaves = [p for p in paths(template) if p and not isinstance(_at(template, p), (dict, list))]
    for _ in range(draw(st.integers(min_value=1, max_value=max_changes))):
        where = draw(st.sampled_from(leaves))
        replacement = draw(_same_kind(_at(template, where)))
        value = _changed(value, where, lambda _, new=replacement: new)
    return value


def payloads(template: Any) -> st.SearchStrategy[Any]:
    """Mutations of a real payload (odd values of the right type, or wrong types and missing
    fields), sometimes any JSON value at all."""
    return st.one_of(oddly_valued(template), mutated(template), oddly_valued(template),
                     mutated(template), json_values)




def _field_value(raw: bytes) -> bytes:
    """The bytes HTTP allows in a header value (visible ASCII, space, tab and obs-text 0x80-0xFF):
    anything else is refused by aiohttp's HTTP parser before the app runs."""
    return bytes(c for c in raw if c == 0x09 or 0x20 <= c <= 0x7E or c >= 0x80).strip() or b"x"


# Header values a client can put on the wire: empty, spaces, huge, non-UTF-8 bytes (aiohttp
# decodes them with surrogateescape), numbers that are not numbers.
header_values = st.one_of(
    st.sampled_from([b"", b"0", b"-1", b"1e9", b"99999999999999999999999999", b"NaN", b"v0=",
                     b"v0=zz", b"Bearer", b"Bearer x", b"\xff\xfe", b"\xc3\x28",
                     b"\xe2\x80\xae", b"\xed\xa0\x80", b"=?utf-8?q?x?=", b"null"]),
    st.binary(min_size=1, max_size=60).map(_field_value),
    st.builds(lambda n: b"A" * n, st.integers(min_value=100, max_value=7000)),
)
