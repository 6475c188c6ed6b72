import os
import stat

import pytest

from pipeline.engine.fingerprint import KEY_ENV, KEY_FILE, Fingerprinter, normalize, preview, resolve_key


def test_fingerprint_is_keyed_hmac_of_normalized_value():
    fp = Fingerprinter(b"k1")
    assert fp("EMAIL_ADDRESS", "Jane.Doe@Gmail.com ") == fp("EMAIL_ADDRESS", "jane.doe@gmail.com")
    assert fp("PHONE_NUMBER", "(415) 555-0134") == fp("PHONE_NUMBER", "+1 415 555 0134")
    assert fp("US_SSN", "512-48-9921") == fp("US_SSN", "512489921")
    assert fp("EMAIL_ADDRESS", "a@b.io") != Fingerprinter(b"k2")("EMAIL_ADDRESS", "a@b.io")
    assert len(fp("PERSON", "Jane")) == 64
    assert "k1" not in repr(fp)


def test_secrets_are_not_case_folded():
    assert normalize("API_KEY", "sk_live_AbC") == "sk_live_AbC"


@pytest.mark.parametrize("entity,value,expected", [
    ("EMAIL_ADDRESS", "jane.doe@gmail.com", "j***@g****.com"),
    ("US_SSN", "123-45-6789", "***-**-6789"),
    ("PERSON", "Maria Gonzalez", "M**** G*******"),
    ("CREDIT_CARD", "4242 4242 4242 4242", "**** **** **** 4242"),
    ("IP_ADDRESS", "120.75.16.101", "120.*.*.*"),
    ("DATE_OF_BIRTH", "1984-03-12", "****-**-**"),
])
def test_previews(entity, value, expected):
    assert preview(entity, value) == expected


@pytest.mark.parametrize("entity,value", [
    ("API_KEY", "sk_live_" + "a1B2" * 8), ("MEDICAL_RECORD_NUMBER", "MRN-00482913"), ("PHONE_NUMBER", "415-555-0134"),
    ("MEDICAL_CONDITION", "hypertension"), ("US_NPI", "1234567893"), ("CREDENTIAL", "hunter22"),
])
def test_preview_never_contains_the_value(entity, value):
    out = preview(entity, value)
    assert value not in out and out


def test_key_from_env_beats_config_and_file(tmp_path, monkeypatch):
    monkeypatch.setenv(KEY_ENV, "from-env")
    assert resolve_key("from-config", tmp_path) == b"from-env"
    monkeypatch.delenv(KEY_ENV)
    assert resolve_key("from-config", tmp_path) == b"from-config"


def test_generated_key_is_0600_and_reused(tmp_path, caplog):
    key = resolve_key(None, tmp_path)
    path = tmp_path / KEY_FILE
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert resolve_key(None, tmp_path) == key
    assert key.decode() not in caplog.text


def test_consumers_starting_together_share_one_whole_generated_key(tmp_path, monkeypatch):
    """Two consumers of a group sharing an output directory once read the key file half written."""
    import threading

    from pipeline.engine.fingerprint import KEY_ENV, resolve_key

    monkeypatch.delenv(KEY_ENV, raising=False)
    for attempt in range(20):
        out = tmp_path / f"out-{attempt}"
        start = threading.Barrier(8)
        keys: list[bytes] = []

        def one() -> None:
            start.wait()
            keys.append(resolve_key(None, out))

        threads = [threading.Thread(target=one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(10)
        assert len(keys) == 8 and len(set(keys)) == 1 and len(keys[0]) >= 32
        assert [p.name for p in out.iterdir()] == [".phiscan-key"]  # no temporary file left behind
        assert (out / ".phiscan-key").stat().st_mode & 0o777 == 0o600
