"""The course's sample data: synthetic faces written in the real data sets' exact formats.

Every notebook runs on this data by default (``DATA = "sample"``), offline, in about a minute.
The faces come from :mod:`utils.synthetic` (a FACS-driven renderer), so every label is exact.
:func:`generate` writes the whole folder, identical byte for byte every run (seeded), into a
temporary folder beside ``out`` that is renamed at the end: a crash never leaves half a data
set behind. :func:`is_complete` says whether a folder already holds this generator's data
(``utils.config.ensure_sample_data`` calls both). The command line is
``python -m data_scripts.make_sample_data --out data/sample``.

Layout (see ``CONTRIBUTING.md``, "Sample data layout")::

    manifest.json                          generator version, seed, every file's sha256 and size
    facial-keypoints-detection/            Kaggle Facial Keypoints Detection's formats
        training.csv test.csv IdLookupTable.csv SampleSubmission.csv subjects.csv
    fer2013/fer2013.csv                    ICML 2013 format: emotion,pixels,Usage
    fer2013/train/<emotion>/Training_N.jpg, fer2013/test/<emotion>/PublicTest_N.jpg ...
    action_units/au_labels.csv             file,subject,emotion,AU1,...,AU26 (0-5)
    action_units/images/<file>.png         96x96 grayscale
    identities/s1/1.pgm ...                ORL layout: 92x112 PGM, 50 people x 20 pictures
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import cv2
import numpy as np

from utils import schema
from utils import synthetic as syn
from utils.data_fer2013 import fer2013_csv_to_folders
from utils.progress import progress
from utils.schema import EMOTIONS, KEYPOINT_COLUMNS

#: The seed the sample data is generated with (its manifest records it). Changing it changes
#: every file; it is not the training seed (``utils.config.DEFAULT_SEED``).
SAMPLE_SEED = 42

#: How many of each, at ``scale=1``. Small enough to generate in well under a minute on two
#: cores and stay under 100 MB; big enough that each lesson's claim holds.
SIZES: dict[str, int] = {
    "keypoints_train_subjects": 125,  # x 8 pictures = 1000 training rows
    "keypoints_test_subjects": 25,  # x 8 = 200 test images
    "keypoints_per_subject": 8,
    "fer2013": 2500,  # 80/10/10 Training/PublicTest/PrivateTest; one new face per picture
    "au_subjects": 50,  # x 25 = 1250 AU-labelled pictures
    "au_per_subject": 25,
    "identities": 50,  # people x 20 pictures, ORL layout
    "identity_pictures": 20,
}

#: Kaggle's real training.csv (7,049 rows): the first ~32% come from a fully labelled source
#: (2,140 of its 2,284 rows have all 15 keypoints, the rest miss one or a few); the remaining
#: rows have only 4 keypoints (4,755) or, rarely, 3 (10). The sample data mirrors this.
KAGGLE_COMPLETE_BLOCK = 2284 / 7049
KAGGLE_COMPLETE_IN_BLOCK = 2140 / 2284
KAGGLE_THREE_IN_FOUR_BLOCK = 10 / 4765
#: The keypoints of Kaggle's 4-keypoint rows (and of its 8-feature test requests).
FOUR_KEYPOINTS = ["left_eye_center", "right_eye_center", "nose_tip", "mouth_center_bottom_lip"]
#: Kaggle's test set: 591 of 1,783 images ask for (up to) all 30 features, listed first; the
#: others ask for the 8 coordinates of :data:`FOUR_KEYPOINTS`.
KAGGLE_TEST_FULL = 591 / 1783

FER_USAGE_FRACTIONS = {"Training": 0.8, "PublicTest": 0.1, "PrivateTest": 0.1}

_DATASET_CODES = {"keypoints": 1, "keypoints_test": 2, "fer2013": 3, "action_units": 4,
                  "identities": 5, "labels": 6}  # fmt: skip
_SUBJECT_OFFSET = 1_000_000  # RNG streams of people, apart from those of pictures


class SampleDataError(RuntimeError):
    """Generating the sample data failed (the message says where)."""


# --------------------------------------------------------------------------------------------
# Helpers: seeded streams, pixel text, file writing
# --------------------------------------------------------------------------------------------


def rng_for(seed: int, dataset: str, index: int) -> np.random.Generator:
    """An independent random stream for item ``index`` of ``dataset`` (stable across scales)."""
    return np.random.default_rng([seed, _DATASET_CODES[dataset], index])


def _scaled(name: str, scale: float, minimum: int) -> int:
    return max(minimum, int(round(SIZES[name] * scale)))


#: What a data set's maker calls after each face it renders (to move a progress bar).
Tick = Callable[[], object]


def _no_tick() -> None:
    """The :data:`Tick` of a maker called with nothing to count."""


def face_counts(scale: float = 1.0) -> dict[str, int]:
    """How many faces each data set's maker renders at ``scale`` (the progress bar's total)."""
    kp_people = _scaled("keypoints_train_subjects", scale, 4)
    kp_people += _scaled("keypoints_test_subjects", scale, 2)
    return {
        "keypoints": SIZES["keypoints_per_subject"] * kp_people,
        "fer2013": _scaled("fer2013", scale, 21),
        "action_units": SIZES["au_per_subject"] * _scaled("au_subjects", scale, 3),
        "identities": SIZES["identity_pictures"] * _scaled("identities", scale, 3),
    }


# Each grey level's text with a trailing space, padded to 4 bytes, and its length.
_TOKENS = np.zeros((256, 4), np.uint8)
_TOKEN_LEN = np.zeros(256, np.int64)
for _v in range(256):
    _text = f"{_v} ".encode()
    _TOKENS[_v, : len(_text)] = np.frombuffer(_text, np.uint8)
    _TOKEN_LEN[_v] = len(_text)


def pixels_to_text(images: np.ndarray) -> list[bytes]:
    """Each uint8 image as Kaggle's pixel text: grey levels separated by single spaces.

    Vectorised (a lookup table of tokens and one boolean gather), so a thousand 96x96 pictures
    take a fraction of a second instead of the many seconds of ``" ".join(map(str, ...))``.
    """
    flat = np.ascontiguousarray(images, dtype=np.uint8).reshape(len(images), -1)
    if flat.shape[1] == 0:
        return [b""] * len(flat)
    lengths = _TOKEN_LEN[flat]
    lengths[:, -1] -= 1  # no space after a row's last pixel
    keep = np.arange(4) < lengths[..., None]
    joined = _TOKENS[flat][keep].tobytes()
    ends = np.cumsum(lengths.sum(axis=1))
    starts = np.concatenate([[0], ends[:-1]])
    return [joined[a:b] for a, b in zip(starts.tolist(), ends.tolist(), strict=True)]


def format_number(value: float) -> str:
    """A coordinate as in Kaggle's training.csv: 12 significant digits, '' when missing."""
    return "" if not np.isfinite(value) else format(float(value), ".12g")


def _write(path: Path, data: bytes) -> None:
    """Write a file inside the (temporary) output folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def _encode(ext: str, image: np.ndarray, source: str) -> bytes:
    ok, buf = cv2.imencode(ext, image)
    if not ok:  # pragma: no cover - OpenCV encodes any uint8 grey image
        raise SampleDataError(f"OpenCV could not encode {source} as {ext}")
    return buf.tobytes()


def pgm_bytes(image: np.ndarray) -> bytes:
    """A binary PGM (P5) file exactly like the ORL database's: ``P5\\n92 112\\n255\\n`` + pixels."""
    h, w = image.shape
    return f"P5\n{w} {h}\n255\n".encode() + np.ascontiguousarray(image, np.uint8).tobytes()


def _face(
    rng: np.random.Generator,
    identity: syn.Identity,
    emotion: str | None,
    kind: str,
    *,
    occluder_prob: float = 0.07,
    aus: dict[str, int] | None = None,
) -> tuple[syn.RenderedFace, dict[str, int]]:
    """Render one picture of ``identity``; re-draw the pose until all 15 keypoints are inside
    the picture with a 1-pixel margin (Kaggle's faces are framed; labels never fall outside)."""
    if aus is None:
        aus = syn.sample_aus(rng, emotion or "neutral")
    framing = syn.FRAMINGS["fer2013" if kind == "fer2013" else
                            "identities" if kind == "identities" else "keypoints"]  # fmt: skip
    imaging = syn.sample_imaging(rng, occluder_prob=occluder_prob)
    for _ in range(20):
        face = syn.render_face(identity, aus, syn.sample_pose(rng, kind), imaging, framing)
        kp = face.keypoints
        inside = (kp >= 1).all() and (kp[:, 0] <= framing.width - 2).all()
        if inside and (kp[:, 1] <= framing.height - 2).all():
            break
    return face, aus


def _emotion_probabilities() -> np.ndarray:
    counts = np.array([syn.FER_TRAINING_COUNTS[e] for e in EMOTIONS], dtype=np.float64)
    return counts / counts.sum()


# --------------------------------------------------------------------------------------------
# The four data sets
# --------------------------------------------------------------------------------------------


def _missing_mask(rng: np.random.Generator, n: int) -> np.ndarray:
    """(n, 15) True where a keypoint is labelled, in Kaggle's pattern (see the constants)."""
    four = np.array([schema.KEYPOINT_NAMES.index(k) for k in FOUR_KEYPOINTS])
    mask = np.zeros((n, 15), dtype=bool)
    n_block = int(round(n * KAGGLE_COMPLETE_BLOCK))
    for i in range(n):
        if i < n_block:
            mask[i] = True
            if rng.random() > KAGGLE_COMPLETE_IN_BLOCK:  # a few keypoints left unlabelled
                k = int(rng.choice([1, 2, 3, 4], p=[0.7, 0.15, 0.1, 0.05]))
                # Brow outer ends and the mouth's lower edge go missing most often in Kaggle.
                weights = np.ones(15)
                weights[[7, 9]] = 6.0
                weights[[13, 14]] = 2.0
                drop = rng.choice(15, size=k, replace=False, p=weights / weights.sum())
                mask[i, drop] = False
        else:
            mask[i, four] = True
            if rng.random() < KAGGLE_THREE_IN_FOUR_BLOCK:
                mask[i, schema.KEYPOINT_NAMES.index("mouth_center_bottom_lip")] = False
    return mask


def make_keypoints(root: Path, seed: int, scale: float, tick: Tick = _no_tick) -> dict[str, int]:
    """Kaggle Facial Keypoints Detection: training.csv, test.csv, IdLookupTable.csv,
    SampleSubmission.csv and subjects.csv (who is in each training row)."""
    folder = root / "facial-keypoints-detection"
    per = SIZES["keypoints_per_subject"]
    n_train_subjects = _scaled("keypoints_train_subjects", scale, 4)
    n_test_subjects = _scaled("keypoints_test_subjects", scale, 2)
    probs = _emotion_probabilities()

    def render(dataset: str, n_subjects: int, prefix: str):
        images, rows, subjects = [], [], []
        for s in range(n_subjects):
            subject = f"{prefix}{s + 1:04d}"
            identity = syn.sample_identity(rng_for(seed, dataset, _SUBJECT_OFFSET + s), subject)
            for k in range(per):
                rng = rng_for(seed, dataset, s * per + k)
                emotion = EMOTIONS[int(rng.choice(len(EMOTIONS), p=probs))]
                face, _ = _face(rng, identity, emotion, "keypoints")
                tick()
                images.append(face.image)
                rows.append(face.kaggle_row())
                subjects.append(subject)
        return np.stack(images), np.stack(rows), subjects

    train_x, train_y, train_subjects = render("keypoints", n_train_subjects, "kp")
    test_x, _, _ = render("keypoints_test", n_test_subjects, "kptest")

    mask = _missing_mask(rng_for(seed, "labels", 1), len(train_y))
    labels = np.where(np.repeat(mask, 2, axis=1), train_y, np.nan)
    lines = [",".join([*KEYPOINT_COLUMNS, "Image"]).encode()]
    for values, pixels in zip(labels, pixels_to_text(train_x), strict=True):
        lines.append(",".join(format_number(v) for v in values).encode() + b"," + pixels)
    _write(folder / "training.csv", b"\r\n".join(lines) + b"\r\n")  # Kaggle's CRLF

    lines = [b"ImageId,Image"]
    for i, pixels in enumerate(pixels_to_text(test_x), start=1):
        lines.append(f"{i},".encode() + pixels)
    _write(folder / "test.csv", b"\r\n".join(lines) + b"\r\n")

    subject_lines = ["row,subject"] + [f"{i},{s}" for i, s in enumerate(train_subjects)]
    _write(folder / "subjects.csv", ("\r\n".join(subject_lines) + "\r\n").encode())

    # IdLookupTable: the first ~33% of test images ask for all 30 features (a few of them for
    # slightly fewer), the rest only for the 8 of FOUR_KEYPOINTS -- like Kaggle's.
    rng = rng_for(seed, "labels", 2)
    n_full = int(round(len(test_x) * KAGGLE_TEST_FULL))
    four_cols = [c for c in KEYPOINT_COLUMNS if c[:-2] in FOUR_KEYPOINTS]
    lookup, submission, row_id = ["RowId,ImageId,FeatureName,Location"], ["RowId,Location"], 0
    for image_id in range(1, len(test_x) + 1):
        if image_id <= n_full:
            names = list(schema.KEYPOINT_NAMES)
            if rng.random() < 35 / 591:  # Kaggle: 35 of 591 such images ask for 18-28
                for drop in rng.choice([7, 9, 6, 8], size=int(rng.integers(1, 3)), replace=False):
                    names.remove(schema.KEYPOINT_NAMES[drop])
            features = [c for c in KEYPOINT_COLUMNS if c[:-2] in names]
        else:
            features = four_cols
        for feature in features:
            row_id += 1
            lookup.append(f"{row_id},{image_id},{feature},")
            submission.append(f"{row_id},0")
    _write(folder / "IdLookupTable.csv", ("\n".join(lookup) + "\n").encode())
    _write(folder / "SampleSubmission.csv", ("\n".join(submission) + "\n").encode())
    return {
        "keypoints_training_rows": len(train_x),
        "keypoints_complete_rows": int(mask.all(axis=1).sum()),
        "keypoints_test_images": len(test_x),
        "keypoints_lookup_rows": row_id,
    }


def make_fer2013(root: Path, seed: int, scale: float, tick: Tick = _no_tick) -> dict[str, int]:
    """FER-2013: fer2013.csv (ICML format) and the msambare folders made from it."""
    folder = root / "fer2013"
    n = _scaled("fer2013", scale, 21)
    label_rng = rng_for(seed, "labels", 3)
    usages, labels = [], []
    remaining = n
    for k, (usage, frac) in enumerate(FER_USAGE_FRACTIONS.items()):
        count = remaining if k == len(FER_USAGE_FRACTIONS) - 1 else int(round(n * frac))
        remaining -= count
        labels.extend(syn.sample_emotions(label_rng, count).tolist())
        usages.extend([usage] * count)
    images = []
    for i, label in enumerate(labels):
        rng = rng_for(seed, "fer2013", i)
        identity = syn.sample_identity(rng, f"fer{i}")
        face, _ = _face(rng, identity, EMOTIONS[label], "fer2013", occluder_prob=0.06)
        tick()
        images.append(face.image)
    lines = [b"emotion,pixels,Usage"]
    for label, pixels, usage in zip(labels, pixels_to_text(np.stack(images)), usages, strict=True):
        lines.append(f"{label},".encode() + pixels + f",{usage}".encode())
    csv_path = folder / "fer2013.csv"
    _write(csv_path, b"\n".join(lines) + b"\n")
    fer2013_csv_to_folders(csv_path, folder)
    return {f"fer2013_{u}": usages.count(u) for u in FER_USAGE_FRACTIONS}


def make_action_units(root: Path, seed: int, scale: float, tick: Tick = _no_tick) -> dict[str, int]:
    """AU intensities (0-5) per picture, DISFA-like: half the pictures pose one of the seven
    emotions, half show random AU combinations (so no AU is always seen with another: an AU12
    detector must look at the lip corners, not at the eyes of a smile)."""
    folder = root / "action_units"
    per = SIZES["au_per_subject"]
    lines = [",".join(["file", "subject", "emotion", *schema.AU_NAMES])]
    for s in range(_scaled("au_subjects", scale, 3)):
        subject = f"au{s + 1:03d}"
        identity = syn.sample_identity(rng_for(seed, "action_units", _SUBJECT_OFFSET + s), subject)
        for k in range(per):
            rng = rng_for(seed, "action_units", s * per + k)
            if rng.random() < 0.5:
                emotion = EMOTIONS[int(rng.integers(len(EMOTIONS)))]
                aus = syn.sample_aus(rng, emotion)
            else:
                emotion = ""
                chosen = rng.choice(
                    len(schema.AU_NAMES), size=int(rng.integers(1, 4)), replace=False
                )
                aus = {schema.AU_NAMES[j]: int(rng.integers(1, 6)) for j in sorted(chosen)}
            face, _ = _face(rng, identity, emotion, "action_units", aus=aus, occluder_prob=0.03)
            tick()
            name = f"{subject}_{k + 1:03d}"
            _write(folder / "images" / f"{name}.png", _encode(".png", face.image, name))
            values = [str(aus.get(a, 0)) for a in schema.AU_NAMES]
            lines.append(",".join([name, subject, emotion, *values]))
    _write(folder / "au_labels.csv", ("\n".join(lines) + "\n").encode())
    return {"action_units_images": len(lines) - 1}


def make_identities(root: Path, seed: int, scale: float, tick: Tick = _no_tick) -> dict[str, int]:
    """People for face verification, in the ORL layout: ``s<k>/<n>.pgm``, 92x112 PGM."""
    folder = root / "identities"
    n_people = _scaled("identities", scale, 3)
    per = SIZES["identity_pictures"]
    probs = _emotion_probabilities()
    for s in range(n_people):
        subject = f"s{s + 1}"
        identity = syn.sample_identity(rng_for(seed, "identities", _SUBJECT_OFFSET + s), subject)
        for k in range(per):
            rng = rng_for(seed, "identities", s * per + k)
            emotion = EMOTIONS[int(rng.choice(len(EMOTIONS), p=probs))]
            face, _ = _face(rng, identity, emotion, "identities", occluder_prob=0.05)
            tick()
            _write(folder / subject / f"{k + 1}.pgm", pgm_bytes(face.image))
    return {"identities_people": n_people, "identities_pictures": n_people * per}


# --------------------------------------------------------------------------------------------
# The whole folder: generate, check, manifest
# --------------------------------------------------------------------------------------------


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _manifest(root: Path, seed: int, scale: float, counts: dict[str, int]) -> dict[str, object]:
    files: dict[str, dict[str, str | int]] = {}
    total = 0
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        size = path.stat().st_size
        files[rel] = {"sha256": _sha256(path), "bytes": size}
        total += size
    return {
        "generator": "utils.synthetic (python -m data_scripts.make_sample_data)",
        "generator_version": syn.GENERATOR_VERSION,
        "seed": seed,
        "scale": scale,
        "sizes": SIZES,
        "counts": counts,
        "total_bytes": total,
        "files": files,
    }


def read_manifest(out: Path) -> dict[str, object] | None:
    """The folder's ``manifest.json`` as a dict, or None if missing or unreadable."""
    try:
        data = json.loads((Path(out) / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_complete(out: Path, *, seed: int = SAMPLE_SEED, scale: float = 1.0) -> bool:
    """True when ``out`` holds sample data from this generator version, sizes, ``seed`` and
    ``scale`` with every file of its manifest present at its recorded size."""
    manifest = read_manifest(Path(out))
    if manifest is None or manifest.get("generator_version") != syn.GENERATOR_VERSION:
        return False
    if manifest.get("seed") != seed or manifest.get("scale") != scale:
        return False
    if manifest.get("sizes") != SIZES:  # this script's sizes changed since
        return False
    files = manifest.get("files")
    if not isinstance(files, dict) or not files:
        return False
    for rel, info in files.items():
        path = Path(out) / rel
        try:
            if path.stat().st_size != int(info["bytes"]):
                return False
        except (OSError, KeyError, TypeError, ValueError):
            return False
    return True


@contextlib.contextmanager
def _lock(out: Path) -> Iterator[None]:
    """Hold an exclusive lock beside ``out`` so two processes never generate at once."""
    try:
        import fcntl
    except ImportError:  # Windows: no lock; the atomic rename still keeps the folder whole
        yield
        return
    with open(out.parent / f".{out.name}.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


#: The data sets in the order :func:`generate` makes them; each maker takes ``(root, seed,
#: scale, tick)`` and calls ``tick()`` after every face it renders.
STEPS: list[tuple[str, Callable[..., dict[str, int]]]] = [
    ("keypoints", make_keypoints),
    ("fer2013", make_fer2013),
    ("action_units", make_action_units),
    ("identities", make_identities),
]


def generate(
    out: Path | str,
    seed: int = SAMPLE_SEED,
    *,
    scale: float = 1.0,
    force: bool = False,
    verbose: bool = False,
    quiet: bool = False,
) -> Path:
    """Write the sample data to ``out`` (replacing what is there) and return ``out``.

    ``scale`` shrinks every data set (``0.05`` for a seconds-long test run); the same
    ``seed`` and ``scale`` always give the same bytes. If ``out`` already holds complete data
    of this generator, seed and scale (say, another process made it a moment ago) it is kept,
    unless ``force=True``. A progress bar counts the faces rendered, with the time left, in a
    terminal or in Jupyter (:func:`utils.progress.progress`; none with ``quiet=True``);
    ``verbose`` also prints each data set's time.
    """
    out = Path(out).expanduser().resolve()
    if not scale > 0:
        raise ValueError(f"scale={scale}: expected a number > 0 (1.0 = the full sample data)")
    out.parent.mkdir(parents=True, exist_ok=True)
    with _lock(out):
        if not force and is_complete(out, seed=seed, scale=scale):
            return out
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        umask = os.umask(0)
        os.umask(umask)
        tmp.chmod(0o777 & ~umask)  # mkdtemp makes it private; the data is for everyone
        try:
            counts: dict[str, int] = {}
            total = sum(face_counts(scale).values())
            with progress(total=total, desc="sample data", unit="face", quiet=quiet) as bar:
                for name, step in STEPS:
                    start, cpu = time.perf_counter(), time.process_time()
                    bar.set_postfix_str(name)
                    counts.update(step(tmp, seed, scale, lambda: bar.update(1)))
                    if verbose:
                        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
                        # above the bar, which stays at the bottom
                        bar.write(f"  {name}: {wall:.1f} s ({cpu:.1f} s CPU)", file=sys.stdout)
                        sys.stdout.flush()
            manifest = _manifest(tmp, seed, scale, counts)
            text = json.dumps(manifest, indent=1, sort_keys=True) + "\n"
            (tmp / "manifest.json").write_text(text, encoding="utf-8")
            old = None
            if out.exists():
                old = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".old", dir=out.parent))
                os.replace(out, old / out.name)
            os.replace(tmp, out)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return out
