"""A lesson's claims, checked on the learner's own run and printed with their evidence.

A notebook teaches something ("batch norm trains faster", "tf.data keeps the model fed").
Whether *this* run shows it depends on the data, the parameters and the machine, so the
notebook does not state it in Markdown: it checks it and prints what it measured::

    claims = Claims(DATA)
    claims.check("batch norm beats the plain CNN", bn > plain,
                 f"{bn:.1%} vs plain {plain:.1%} (majority {majority:.1%})")
    # ✓ batch norm beats the plain CNN: 51.6% vs plain 38.0% (majority 25.2%)
    # or, when the run does not show it:
    # ✗ not seen in this run: batch norm beats the plain CNN: ...

A claim that is not seen never stops a learner's notebook: it says so and the notebook goes
on (fewer epochs, other data, another machine -- that is a result too). Under the course's
test suite (the environment variable ``FACE_COURSE_STRICT_CLAIMS=1``) a claim that must hold
there does stop it, so a library upgrade that silently breaks a lesson fails CI:

- a plain claim must hold on the sample data with the default parameters;
- ``any_data=True``: it must hold on any data (for example "beats the majority rate");
- ``timing=True``: it is about this machine's speed, which a busy machine can change, so it
  is only ever reported (the course's benchmarks measure speed outside the tests).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

STRICT_ENV = "FACE_COURSE_STRICT_CLAIMS"
SEEN, NOT_SEEN = "\u2713", "\u2717"  # ✓ and ✗


class ClaimNotShown(AssertionError):
    """A lesson's claim that must hold in this run did not (raised under the test suite)."""


@dataclass(frozen=True)
class Claim:
    """One checked claim: what was said, whether this run shows it, and the evidence."""

    text: str
    holds: bool
    evidence: str = ""
    any_data: bool = False
    timing: bool = False

    def line(self) -> str:
        """The printed line: ``✓ text: evidence`` or ``✗ not seen in this run: text: evidence``."""
        tail = f": {self.evidence}" if self.evidence else ""
        if self.holds:
            return f"{SEEN} {self.text}{tail}"
        return f"{NOT_SEEN} not seen in this run: {self.text}{tail}"


def strict_from_environment() -> bool:
    """True under the course's test suite, which sets ``FACE_COURSE_STRICT_CLAIMS=1``."""
    return os.environ.get(STRICT_ENV, "").strip().lower() in {"1", "true", "yes"}


@dataclass
class Claims:
    """The claims of one notebook.

    ``data`` is the notebook's ``DATA`` parameter: claims are enforced (under the test suite
    only) on ``"sample"``; on other data only the ``any_data`` claims are. ``strict`` defaults
    to :func:`strict_from_environment`.
    """

    data: object = "sample"
    strict: bool | None = None
    checked: list[Claim] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.strict is None:
            self.strict = strict_from_environment()

    @property
    def on_sample_data(self) -> bool:
        return isinstance(self.data, str) and self.data == "sample"

    def must_hold(self, claim: Claim) -> bool:
        """Whether ``claim`` failing should stop this run."""
        if not self.strict or claim.timing:
            return False
        return claim.any_data or self.on_sample_data

    def check(
        self,
        text: str,
        holds: object,
        evidence: str = "",
        *,
        any_data: bool = False,
        timing: bool = False,
    ) -> bool:
        """Print ``text`` with ✓ or ✗ and ``evidence``; return whether it holds.

        Raises :class:`ClaimNotShown` only under the test suite, for a claim that must hold.
        """
        if any_data and timing:
            raise ValueError("a claim is either about any data or about timing, not both")
        claim = Claim(text, bool(holds), evidence, any_data=any_data, timing=timing)
        self.checked.append(claim)
        print(claim.line(), flush=True)
        if not claim.holds and self.must_hold(claim):
            where = "on any data" if any_data else "on the sample data with default parameters"
            raise ClaimNotShown(f"the lesson's claim must hold {where}: {claim.line()}")
        return claim.holds

    @property
    def seen(self) -> list[Claim]:
        return [c for c in self.checked if c.holds]

    @property
    def not_seen(self) -> list[Claim]:
        return [c for c in self.checked if not c.holds]

    def summary(self) -> str:
        """One line: how many of this notebook's claims this run showed."""
        text = f"{len(self.seen)} of {len(self.checked)} claims seen in this run"
        if self.not_seen:
            text += " (not seen: " + "; ".join(c.text for c in self.not_seen) + ")"
        return text
