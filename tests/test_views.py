from urllib.parse import quote

from hypothesis import given
from hypothesis import strategies as st

from pipeline.engine.views import expand, percent_decode


def find_view(views, text):
    return next(v for v in views if v.text == text)


def test_url_encoded_email_maps_back_to_encoded_span():
    raw = "/api/patients/search?email=jane.doe%40gmail.com&dob=1984-03-12"
    views = expand(raw, "path")
    email = find_view(views, "jane.doe@gmail.com")
    assert email.key == "email"
    s, e = email.raw_span(0, len(email.text))
    assert raw[s:e] == "jane.doe%40gmail.com"
    dob = find_view(views, "1984-03-12")
    assert dob.key == "dob" and raw[slice(*dob.raw_span(0, 10))] == "1984-03-12"


def test_plus_is_space_in_query_values():
    raw = "/intake?name=Maria+Gonzalez&step=2"
    view = find_view(expand(raw, None), "Maria Gonzalez")
    assert raw[slice(*view.raw_span(0, 14))] == "Maria+Gonzalez"


def test_json_inside_message():
    raw = 'Request body: {"firstName":"Maria","dob":"1984-03-12","nested":{"email":"m@x.io"}}'
    views = expand(raw, "message")
    dob = find_view(views, "1984-03-12")
    assert dob.key == "dob" and dob.kind == "json"
    assert raw[slice(*dob.raw_span(0, 10))] == "1984-03-12"
    email = find_view(views, "m@x.io")
    assert email.key == "email"


def test_json_escapes_map_to_their_raw_escape_sequences():
    raw = '{"note":"caf\\u00e9 \\"Jane\\" Doe"}'
    note = next(v for v in expand(raw, None) if v.key == "note")
    assert note.text == 'café "Jane" Doe'
    i = note.text.index("é")
    assert raw[slice(*note.raw_span(i, i + 1))] == "\\u00e9"
    j = note.text.index("Jane")
    assert raw[slice(*note.raw_span(j, j + 4))] == "Jane"


def test_json_string_inside_json_string_is_decoded_twice():
    inner = '{"ssn":"512-48-9921"}'
    raw = '{"msg":"payload","body":' + '"' + inner.replace('"', '\\"') + '"}'
    views = expand(raw, None, max_depth=3)
    ssn = find_view(views, "512-48-9921")
    assert ssn.key == "ssn"
    assert raw[slice(*ssn.raw_span(0, 11))] == "512-48-9921"


def test_node_inspect_and_logfmt_pairs_are_keyed():
    raw = "intake payload { patientId: 'MRN-00482913', name: 'Robert Chen' } ssn=512-48-9921"
    views = expand(raw, "message")
    assert find_view(views, "Robert Chen").key == "name"
    assert find_view(views, "512-48-9921").key == "ssn"
    v = find_view(views, "MRN-00482913")
    assert raw[slice(*v.raw_span(0, len(v.text)))] == "MRN-00482913"


def test_plain_text_has_only_the_raw_view():
    assert [v.kind for v in expand("GET /api/health 200 in 3ms", "message")] == ["raw"]


@given(st.text(max_size=40))
def test_percent_decode_maps_every_char_to_its_encoding(text):
    encoded = quote(text, safe="")
    decoded, starts, ends = percent_decode(encoded, plus_as_space=False)
    assert decoded == text
    for i, ch in enumerate(decoded):
        assert percent_decode(encoded[starts[i]:ends[i]], False)[0] == ch


@given(st.text(max_size=200))
def test_expand_never_raises_and_spans_stay_in_bounds(text):
    for v in expand(text, "k"):
        if v.text:
            s, e = v.raw_span(0, len(v.text))
            assert 0 <= s <= e <= len(text)


def test_json_after_a_bracketed_prefix_and_array_fallback():
    raw = '[api/visits] body {"dob":"1984-03-12"}'
    assert find_view(expand(raw, "message"), "1984-03-12").key == "dob"
    raw = 'items {not json} [{"email":"a.b@x.io"}]'
    v = find_view(expand(raw, "message"), "a.b@x.io")
    assert v.key == "email" and raw[slice(*v.raw_span(0, 8))] == "a.b@x.io"


def test_email_in_a_url_path_segment_is_its_own_view():
    raw = "GET /api/users/jane@x.com/records 200"
    view = find_view(expand(raw, "message"), "jane@x.com")
    assert view.key == "users" and raw[slice(*view.raw_span(0, 10))] == "jane@x.com"


def test_percent_encoded_pair_inside_a_json_value_is_decoded():
    raw = '{"cookie":"patient_email=maria%40gmail.com"}'
    view = find_view(expand(raw, None), "maria@gmail.com")
    assert view.key == "patient_email"
    assert raw[slice(*view.raw_span(0, len(view.text)))] == "maria%40gmail.com"


def test_ipv6_is_no_key_value_pair():
    assert [v.kind for v in expand("text2001:db8::1", None)] == ["raw"]


def test_past_the_view_limit_raises_instead_of_truncating():
    import pytest

    from core.paths import LimitExceeded

    raw = " ".join(f"k{i}=v{i}" for i in range(300))
    assert len(expand(raw, None, max_views=400)) > 300
    with pytest.raises(LimitExceeded):
        expand(raw, None, max_views=256)


def test_json_nested_past_the_depth_limit_raises():
    import pytest

    from core.paths import LimitExceeded
    from pipeline.engine.views import MAX_JSON_DEPTH

    ok = "msg " + '{"a":' * MAX_JSON_DEPTH + '"x"' + "}" * MAX_JSON_DEPTH
    assert find_view(expand(ok, None), "x").kind == "json"
    deep = "msg " + '{"a":' * (MAX_JSON_DEPTH + 2) + '"x"' + "}" * (MAX_JSON_DEPTH + 2)
    with pytest.raises(LimitExceeded):
        expand(deep, None)


def test_engine_quarantines_a_field_past_the_view_limit(engine):
    from core.model import Event

    raw = " ".join(f"k{i}=v{i}" for i in range(400))
    result = engine.scan([Event(source="t", event_id="1", origin="o", payload={"message": raw})])
    assert not result.findings and len(result.bad) == 1 and "limit exceeded" in result.bad[0].reason


def test_percent_decode_fast_path_agrees_with_the_char_by_char_decoder():
    from hypothesis import given, settings, strategies as st

    from pipeline.engine.views import _percent_decode_chars, percent_decode

    parts = ["%", "%4", "%40", "%C3", "%A9", "%E2%82%AC", "%ZZ", "+", "a", "=", "&", "%2B", "%F0%9F", "%80", " ", "9"]

    @settings(max_examples=1500, deadline=None, derandomize=True)
    @given(st.lists(st.sampled_from(parts), max_size=40), st.booleans())
    def same(chunks, plus):
        text = "".join(chunks)
        assert percent_decode(text, plus) == _percent_decode_chars(text, plus)

    same()
