import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.paths import LimitExceeded, format_key, iter_leaves, join_index, join_key, normalize_key, parse, resolve


@pytest.mark.parametrize("key,expected", [
    ("email", "email"),
    ("trace.id", '["trace.id"]'),
    ("a b", '["a b"]'),
    ('say "hi"', '["say \\"hi\\""]'),
    ("x[0]", '["x[0]"]'),
    ("", '[""]'),
    ("$current_url", "$current_url"),
])
def test_format_key_quotes_only_what_needs_it(key, expected):
    assert format_key(key) == expected


def test_paths_of_nested_payload():
    payload = {"proxy": {"path": "/a"}, "exception": {"values": [{"stacktrace": {"frames": [{}, {}, {"vars": {"email": "x@y.io"}}]}}]},
               "trace.id": "abc", "request": {"headers": [["Cookie", "sid=1"], ["Authorization", "Bearer t"]]}}
    paths = {leaf.path: leaf.text for leaf in iter_leaves(payload)}
    assert paths["proxy.path"] == "/a"
    assert paths["exception.values[0].stacktrace.frames[2].vars.email"] == "x@y.io"
    assert paths['["trace.id"]'] == "abc"
    assert paths["request.headers[1][1]"] == "Bearer t"
    for path, text in paths.items():
        assert resolve(payload, path) == text


def test_numbers_scanned_only_under_numeric_keys():
    payload = {"ssn": 123456789, "count": 123456789, "nested": {"phone": 4155550134}, "flag": True}
    leaves = list(iter_leaves(payload, numeric_keys=frozenset({"ssn", "phone"})))
    assert {(l.path, l.text) for l in leaves} == {("ssn", "123456789"), ("nested.phone", "4155550134")}
    assert all(l.numeric for l in leaves)


def test_limits_raise():
    deep = current = {}
    for _ in range(100):
        current["a"] = {}
        current = current["a"]
    with pytest.raises(LimitExceeded):
        list(iter_leaves(deep, max_depth=64))
    with pytest.raises(LimitExceeded):
        list(iter_leaves({str(i): "v" for i in range(50)}, max_fields=10))


def test_normalize_key():
    assert normalize_key("patient_firstName") == "patientfirstname"
    assert normalize_key(None) == ""


@given(st.lists(st.one_of(st.text(max_size=12), st.integers(min_value=0, max_value=50)), max_size=6))
def test_parse_inverts_join(parts):
    path = ""
    for p in parts:
        path = join_index(path, p) if isinstance(p, int) else join_key(path, p)
    if parts and isinstance(parts[0], int):
        # a path cannot start with an index from join_index("") -> "[i]"; parse handles it too
        pass
    assert parse(path) == parts


@pytest.mark.parametrize("bad", ["a..b", "a.", "[1", '["x"', "a b"])
def test_parse_rejects_malformed(bad):
    with pytest.raises(ValueError):
        parse(bad)


def test_key_value_lists_name_their_values():
    payload = {"event_params": [{"key": "page_location", "value": {"string_value": "https://x/?email=a%40b.io"}}],
               "request": {"headers": [["Authorization", "Bearer abc"], ["Cookie", "sid=1"]]},
               "tags": [{"key": "user", "value": "ip:69.1.2.3"}],
               "user_properties": [{"key": "ssn", "value": {"int_value": 512489921}}]}
    leaves = {l.path: l.key for l in iter_leaves(payload, numeric_keys=frozenset({"ssn"}))}
    assert leaves["event_params[0].value.string_value"] == "page_location"
    assert leaves["event_params[0].key"] == "key"
    assert leaves["request.headers[0][1]"] == "Authorization"
    assert leaves["tags[0].value"] == "user"
    assert leaves["user_properties[0].value.int_value"] == "ssn"


def test_selectors_treat_brackets_literally():
    from pipeline.config import Selector
    from pipeline.engine.selectors import SelectorIndex

    idx = SelectorIndex([Selector(path="proxy.userAgent[*]", profile="machine"),
                         Selector(path='["trace.id"]', profile="skip"), Selector(path="modules*", profile="skip")])
    assert idx.profile("vercel", "proxy.userAgent[0]") == "machine"
    assert idx.profile("vercel", '["trace.id"]') == "skip"
    assert idx.profile("vercel", 'modules["System.Runtime"]') == "skip"
    assert idx.profile("vercel", "proxy.path") == "full"
    assert idx.profile("vercel", "t") == "full"  # `["trace.id"]` is no character class
