"""pyproject.toml ships every ragkit package and the bundled recipes."""

import sys
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

ROOT = Path(__file__).resolve().parents[1]
SETUPTOOLS = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))["tool"][
    "setuptools"
]


def test_every_ragkit_package_is_listed():
    found = {
        ".".join(init.parent.relative_to(ROOT).parts)
        for init in (ROOT / "ragkit").rglob("__init__.py")
    }
    assert found | {"ragkit.pipelines"} == set(SETUPTOOLS["packages"])


def test_the_recipes_folder_ships_as_ragkit_pipelines():
    assert SETUPTOOLS["package-dir"]["ragkit.pipelines"] == "pipelines"
    assert SETUPTOOLS["package-data"]["ragkit.pipelines"] == ["*.toml"]
    assert sorted(p.name for p in (ROOT / "pipelines").glob("*.toml")) == [
        "code.toml",
        "docs.toml",
        "general.toml",
        "papers.toml",
    ]
