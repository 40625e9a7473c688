"""Every notebook that takes ``DATA`` also runs on the real data sets, with its default budget.

(09 has no real action-unit data set to run on, and 10 already runs the shipped models, which
were trained on the real data, on real photos.)

The real files sit beside the checkout (``../shared/data``, or ``$FACE_DL_SHARED``); without
them these tests skip. Claims are strict here too, but only those that must hold on any data
(``Claims.check(..., any_data=True)``, e.g. "beats the majority rate") can fail the run: the
others are printed as seen or not seen, as a learner with the real data would read them.
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from notebook_output import claim_lines, stderr_noise

from utils.claims import STRICT_ENV
from utils.course import run_notebook
from utils.editions import notebook_paths

KEYPOINTS = "keypoints/real_faces_kaggle_format.zip"
FER2013 = "fer2013/fer2013_train_publictest.zip"
ORL = "att_faces_orl.zip"
REAL_DATA = {
    "00_setup_and_data_tour": FER2013,
    "01_single_layer_keypoints": KEYPOINTS,
    "02_convnets_keypoints": KEYPOINTS,
    "03_batch_norm": FER2013,
    "04_dropout_and_callbacks": FER2013,
    "05_augmentation_and_pipelines": FER2013,
    "06_class_imbalance_and_metrics": FER2013,
    "07_resnet50_transfer": FER2013,
    "08_facenet_embeddings": ORL,
}
TIME_LIMIT_S = 600
BY_STEM = {p.stem: p for p in notebook_paths()}


def test_every_notebook_with_a_real_data_set_is_listed() -> None:
    assert set(REAL_DATA) <= set(BY_STEM), set(REAL_DATA) - set(BY_STEM)


@pytest.mark.slow
@pytest.mark.real_data
@pytest.mark.notebook
@pytest.mark.parametrize("stem", sorted(REAL_DATA))
def test_notebook_runs_on_the_real_data(
    stem: str, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = shared_data / REAL_DATA[stem]  # the fixture skips when the real data is absent
    if not data.exists():
        pytest.skip(f"real data not found: {REAL_DATA[stem]} (../shared/data or $FACE_DL_SHARED)")
    monkeypatch.setenv(STRICT_ENV, "1")
    path = BY_STEM[stem]
    result = run_notebook(path, tmp_path, {"DATA": str(data)}, progress_bar=False, html=False)
    assert result.status == "ok", f"{path.name} on {data.name} failed: {result.error}"
    assert result.seconds < TIME_LIMIT_S, f"{path.name} on {data.name} took {result.seconds:.0f} s"
    executed = nbformat.read(tmp_path / "notebooks" / path.name, as_version=4)
    noise = stderr_noise(executed)
    assert not noise, f"{path.name} on the real data shows stderr noise:\n" + "\n".join(noise)
    # Shown in the test log (pytest -rA): what a class sees on the real data.
    print(f"{path.name} on {data.name}, {result.seconds:.0f} s")
    print("\n".join(claim_lines(executed)))
