"""The build backend: setuptools, plus mypy when the compiled build is asked for.

Why a wrapper: ``pip install .`` builds in an isolated environment whose
requirements are fixed by pyproject.toml. The default, pure-Python package
must build with setuptools alone (no compiler, no mypy); the optional
compiled build (``AUDIT_HEKA_COMPILE=mypyc``, see setup.py) also needs mypy,
whose mypyc compiles the hot modules. This hook adds it only then.
"""

from __future__ import annotations

import os

from setuptools import build_meta
from setuptools.build_meta import *  # noqa: F403 - the whole PEP 517 interface, unchanged

#: What the compiled build adds to the build requirements.
COMPILE_REQUIRES = {"mypyc": ["mypy>=1.10", "types-protobuf"]}  # mypy checks before it compiles


def _extra() -> list[str]:
    mode = os.environ.get("AUDIT_HEKA_COMPILE", "")
    if mode and mode not in COMPILE_REQUIRES:
        raise ValueError(f"AUDIT_HEKA_COMPILE={mode!r}: expected one of {sorted(COMPILE_REQUIRES)}")
    return COMPILE_REQUIRES.get(mode, [])


# setuptools finds extra requirements by running setup.py, which for the
# compiled build imports mypyc -- not installed yet at that point, which is
# the very thing being asked. setup.py declares no setup_requires, so the
# compiled build's requirements are exactly the extra ones.


def get_requires_for_build_wheel(config_settings: dict[str, str] | None = None) -> list[str]:
    extra = _extra()
    return extra or build_meta.get_requires_for_build_wheel(config_settings)


def get_requires_for_build_editable(config_settings: dict[str, str] | None = None) -> list[str]:
    extra = _extra()
    return extra or build_meta.get_requires_for_build_editable(config_settings)
