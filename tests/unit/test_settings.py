from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pytest_llmeval.errors import ConfigurationError
from pytest_llmeval.settings import OPTIONS, Settings, resolve_settings


def resolve(flags: dict[str, Any] | None = None, ini: dict[str, str] | None = None, **kw: Any) -> Settings:
    flags = flags or {}
    ini = ini or {}
    return resolve_settings(
        lambda dest: flags.get(dest),
        lambda key: ini.get(key, ""),
        cwd=kw.get("cwd", Path("/work/here")),
        ini_dir=kw.get("ini_dir", Path("/work/project")),
    )


def test_defaults() -> None:
    settings = resolve()
    assert settings == Settings()
    assert settings.backend_name is None
    assert (settings.device, settings.dtype, settings.chat_template) == ("auto", "auto", "auto")


def test_batch_size_is_auto_unless_given_and_min_mass_a_probability() -> None:
    assert resolve().batch_size == "auto" and resolve().judge_min_mass == 0.5
    assert resolve(flags={"llm_batch_size": "8"}).batch_size == 8
    assert resolve(ini={"llm_batch_size": "auto"}).batch_size == "auto"
    assert resolve(flags={"llm_judge_min_mass": "0.9"}).judge_min_mass == 0.9


def test_every_option_has_an_llm_flag_and_ini_twin() -> None:
    for spec in OPTIONS:
        assert spec.flag == "--llm-" + spec.name.replace("_", "-")
        assert spec.ini == "llm_" + spec.name
        assert hasattr(Settings(), spec.name)
    # Only updating the baseline is command-line only: a config file must not re-accept results.
    assert [spec.name for spec in OPTIONS if not spec.has_ini] == ["update_baseline"]


def test_metric_tolerances_from_flags_and_ini() -> None:
    assert resolve(flags={"llm_metric_tolerance": ["rouge_l=0.05", "bleu = 0.1"]}).metric_tolerance == (
        ("rouge_l", 0.05),
        ("bleu", 0.1),
    )
    assert resolve(ini={"llm_metric_tolerance": "judge=0.5\n\nperplexity=2"}).metric_tolerance == (
        ("judge", 0.5),
        ("perplexity", 2.0),
    )
    with pytest.raises(ConfigurationError, match=r"--llm-metric-tolerance: 'rouge_l' is not NAME=VALUE"):
        resolve(flags={"llm_metric_tolerance": ["rouge_l"]})
    with pytest.raises(ConfigurationError, match="is not NAME=VALUE with a non-negative number"):
        resolve(flags={"llm_metric_tolerance": ["rouge_l=-1"]})


@pytest.mark.parametrize("value", ["nan", "NaN", "inf", "-inf", "1e999"])
def test_metric_tolerance_refuses_nan_and_infinity(value: str) -> None:
    # NaN passed validation and raised inside the comparison after every test had run (exit 3);
    # an infinite tolerance would silently switch the gate off for that metric.
    with pytest.raises(
        ConfigurationError,
        match=rf"'rouge_l={value}' is not NAME=VALUE with a non-negative number \(e.g. rouge_l=0.05; not nan or inf\)",
    ):
        resolve(flags={"llm_metric_tolerance": [f"rouge_l={value}"]})
    with pytest.raises(ConfigurationError, match="ini option llm_metric_tolerance"):
        resolve(ini={"llm_metric_tolerance": f"rouge_l={value}"})


def test_flag_wins_over_ini_and_ini_over_default() -> None:
    settings = resolve(
        flags={"llm_batch_size": "4"},
        ini={"llm_batch_size": "2", "llm_max_new_tokens": "7", "llm_dtype": "bfloat16"},
    )
    assert (settings.batch_size, settings.max_new_tokens, settings.dtype) == (4, 7, "bfloat16")


def test_paths_are_relative_to_cwd_for_flags_and_to_the_ini_file_for_ini() -> None:
    assert resolve(flags={"llm_model": "ckpt"}).model == str(Path("/work/here/ckpt"))
    assert resolve(ini={"llm_model": "ckpt"}).model == str(Path("/work/project/ckpt"))
    assert resolve(ini={"llm_adapter": "../lora"}).adapter == str(Path("/work/lora"))


def test_callable_model_is_kept_verbatim() -> None:
    settings = resolve(flags={"llm_model": "py:my.pipeline:answer"})
    assert settings.model == "py:my.pipeline:answer"
    assert settings.backend_name == "callable"


@pytest.mark.parametrize("value", ["cpu", "cuda", "cuda:1", "mps", "auto"])
def test_valid_devices(value: str) -> None:
    assert resolve(flags={"llm_device": value}).device == value


@pytest.mark.parametrize(
    ("flags", "ini", "message"),
    [
        ({"llm_dtype": "fp8"}, {}, "--llm-dtype: 'fp8' is not one of auto, float32, bfloat16, float16"),
        ({"llm_device": "gpu"}, {}, "--llm-device: 'gpu' is not a device; use auto, cpu, cuda, cuda:N"),
        ({}, {"llm_device": "cuda:x"}, "ini option llm_device: 'cuda:x' is not a device"),
        ({"llm_batch_size": "0"}, {}, "--llm-batch-size: must be from 1 to 10,000,000, got 0"),
        ({"llm_batch_size": "many"}, {}, "--llm-batch-size: 'many' is not a whole number or auto"),
        ({"llm_judge_min_mass": "1.5"}, {}, "--llm-judge-min-mass: '1.5' is not a probability from 0 to 1"),
        ({}, {"llm_judge_min_mass": "half"}, "ini option llm_judge_min_mass: 'half' is not a probability"),
        ({}, {"llm_max_new_tokens": "-3"}, "ini option llm_max_new_tokens: must be from 1 to 10,000,000, got -3"),
        ({}, {"llm_seed": "1.5"}, "ini option llm_seed: '1.5' is not a whole number"),
        # torch.manual_seed raised "Overflow when unpacking long long" inside the backend: no test ran
        (
            {"llm_seed": "9" * 30},
            {},
            "--llm-seed: must be from 0 to 9,223,372,036,854,775,807, got 999,999,999,999,999,999,999,999,999,999",
        ),
        ({"llm_seed": "-1"}, {}, "--llm-seed: must be from 0 to 9,223,372,036,854,775,807, got -1"),
        (
            {"llm_seed": "9" * 5000},
            {},
            "--llm-seed: '99999999999999999999'... (5000 characters) is not a usable number",
        ),
        ({}, {"llm_required": "maybe"}, "ini option llm_required: 'maybe' is not a boolean"),
        ({"llm_chat_template": "yes"}, {}, "--llm-chat-template: 'yes' is not one of auto, always, never"),
        ({"llm_confidence": "95"}, {}, "--llm-confidence: '95' is not a confidence from 0.5 up to (not including) 1"),
        ({}, {"llm_confidence": "high"}, "ini option llm_confidence: 'high' is not a confidence from 0.5"),
        ({"llm_confidence": "1"}, {}, "--llm-confidence: '1' is not a confidence"),
        ({"llm_resamples": "50"}, {}, "--llm-resamples: must be at least 100 (e.g. 10000), got 50"),
        ({"llm_gate": "signif"}, {}, "--llm-gate: 'signif' is not one of off, regressions, strict, significant"),
    ],
)
def test_bad_values_name_the_option_and_value(flags: dict[str, str], ini: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigurationError) as info:
        resolve(flags=flags, ini=ini)
    assert message in str(info.value)


@pytest.mark.parametrize(("raw", "expected"), [("true", True), ("1", True), ("no", False), ("False", False)])
def test_boolean_ini_values(raw: str, expected: bool) -> None:
    assert resolve(ini={"llm_trust_remote_code": raw}).trust_remote_code is expected


def test_significant_gate_with_confidence_and_resamples() -> None:
    settings = resolve(flags={"llm_gate": "significant", "llm_confidence": "0.99"}, ini={"llm_resamples": "2000"})
    assert (settings.gate, settings.confidence, settings.resamples) == ("significant", 0.99, 2000)
    assert (Settings().confidence, Settings().resamples) == (0.95, 10_000)
