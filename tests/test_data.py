"""utils.data: the facade keeps ``from utils.data import X`` working for every public data name."""

from __future__ import annotations

import importlib

import utils.data


def test_every_public_name_is_the_object_of_its_home_module() -> None:
    homes = {
        "utils.schema": ["EMOTIONS", "KEYPOINT_COLUMNS", "KEYPOINT_NAMES", "DataFormatError"],
        "utils.io": ["atomic_write_text", "atomic_write_bytes"],
        "utils.archives": ["extract_zip"],
        "utils.cache": ["serialize", "load_cached"],
        "utils.data_keypoints": ["KeypointData", "load_keypoints", "keypoints_to_npz"],
        "utils.data_fer2013": ["FerData", "load_fer2013", "fer2013_csv_to_folders"],
        "utils.data_action_units": ["ActionUnitData", "load_action_units"],
        "utils.data_identities": ["IdentityData", "load_identities", "load_lfw"],
        "utils.splits": ["split_by_subject"],
    }
    for module, names in homes.items():
        home = importlib.import_module(module)
        for name in names:
            assert getattr(utils.data, name) is getattr(home, name), f"utils.data.{name}"
    assert all(hasattr(utils.data, name) for name in utils.data.__all__)


def test_data_layers_import_no_deep_learning_framework() -> None:
    """Loading data must not start TensorFlow: the data modules never import it."""
    import subprocess
    import sys

    code = (
        "import sys, utils.data, utils.config, utils.sample_data, utils.au_formats; "
        "print(sorted(m for m in ('tensorflow', 'keras', 'data_scripts') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
