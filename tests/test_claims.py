"""utils.claims: a lesson's claims are printed with evidence and enforced only under the tests."""

from __future__ import annotations

import pytest

from utils.claims import STRICT_ENV, ClaimNotShown, Claims


def test_a_learner_sees_every_claim_and_is_never_stopped(capsys: pytest.CaptureFixture) -> None:
    claims = Claims("sample", strict=False)
    assert claims.check("batch norm helps", True, "51.6% vs 38.0%") is True
    assert claims.check("dropout closes the gap", False, "gap 0.12 vs 0.10") is False
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "\u2713 batch norm helps: 51.6% vs 38.0%",
        "\u2717 not seen in this run: dropout closes the gap: gap 0.12 vs 0.10",
    ]
    assert claims.summary() == "1 of 2 claims seen in this run (not seen: dropout closes the gap)"


def test_under_the_tests_a_sample_claim_must_hold() -> None:
    claims = Claims("sample", strict=True)
    with pytest.raises(ClaimNotShown, match="sample data.*dropout closes the gap: gap"):
        claims.check("dropout closes the gap", False, "gap")


def test_on_other_data_only_claims_about_any_data_are_enforced() -> None:
    claims = Claims("path/to/fer2013.zip", strict=True)
    assert claims.check("BN beats plain", False) is False  # reported, the run goes on
    with pytest.raises(ClaimNotShown, match="on any data"):
        claims.check("beats the majority rate", False, "24.8% vs 25.2%", any_data=True)


def test_timing_claims_are_never_enforced() -> None:
    claims = Claims("sample", strict=True)
    assert claims.check("tf.data outruns the generator", False, "x0.93", timing=True) is False
    with pytest.raises(ValueError, match="either"):
        claims.check("both", True, any_data=True, timing=True)


@pytest.mark.parametrize(
    ("value", "strict"), [("1", True), ("true", True), ("", False), ("0", False)]
)
def test_strictness_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, value: str, strict: bool
) -> None:
    monkeypatch.setenv(STRICT_ENV, value)
    assert Claims("sample").strict is strict
