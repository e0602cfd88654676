"""Provenance of stored results: the parameters, the version of the numerical code, the seeds and
the input fingerprints that every `AnalysisRun` records. Pure functions of what they are given
(the inputs' state comes from `analysis.pipeline.inputs`); nothing here reads the database.

A fingerprint is a SHA-256 over the inputs' state, the parameters and the code version: equal
fingerprints mean a recompute would store the same rows, so it is skipped.
"""

import hashlib
import json
from pathlib import Path

import disagreement

#: Parameters of the stored indices; part of every fingerprint.
INDEX_PARAMETERS = {"bootstrap": 1000, "level": 0.95}

#: Parameters of the stored effects; part of every fingerprint.
EFFECT_PARAMETERS = {"bootstrap": 1000, "permutations": 1000, "level": 0.95}


def _code_version() -> str:
    """Package version plus a hash of the numerical code, so a changed formula invalidates results."""
    digest = hashlib.sha256()
    stats = Path(__file__).resolve().parents[1] / "stats"
    for path in sorted(stats.rglob("*.py")):
        digest.update(path.relative_to(stats).as_posix().encode())
        digest.update(path.read_bytes())
    return f"{disagreement.__version__}+{digest.hexdigest()[:12]}"


CODE_VERSION = _code_version()


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")


def wave_seed(*, study, wave) -> int:
    """A fixed seed per (study, wave): recomputing unchanged data gives identical intervals."""
    return _seed(f"{study.slug}:{wave.number}")


def effects_seed(*, study) -> int:
    """A fixed seed per study for its effects."""
    return _seed(f"{study.slug}:effects")


def _digest(payload: dict) -> str:
    return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()


def wave_fingerprint(state: dict, *, parameters: dict) -> str:
    """The fingerprint of a wave's indices from its inputs' state (`WaveInputs.state`)."""
    return _digest({"state": state, "parameters": parameters, "code": CODE_VERSION})


def effects_fingerprint(states: list[dict], *, primary: str, parameters: dict) -> str:
    """The fingerprint of a study's effects from its waves' answer states (`StudyInputs.states`,
    in wave order) and its primary outcome."""
    return _digest({"waves": states, "parameters": parameters, "primary": primary, "code": CODE_VERSION})
