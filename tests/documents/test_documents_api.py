"""The public surface of ``ragkit.documents`` is pinned and documented."""

from __future__ import annotations

import ast
import inspect
import sys
from pathlib import Path

import ragkit.documents as documents

EXPECTED = [
    "ChunkingOptions",
    "DEFAULT_EXCLUDE",
    "DEFAULT_INCLUDE",
    "GlobSet",
    "LoadError",
    "Loader",
    "LoaderInfo",
    "LoaderOptions",
    "Skipped",
    "SourceFile",
    "chunk_document",
    "chunk_id",
    "content_hash",
    "decode_text",
    "estimate_tokens",
    "find_files",
    "glob_to_regex",
    "load",
    "loader_for",
    "loader_info",
    "needs_reload",
    "normalize_newlines",
    "register_loader",
    "supported_extensions",
]


def test_all_is_sorted_complete_and_pinned() -> None:
    assert list(documents.__all__) == sorted(documents.__all__)
    assert list(documents.__all__) == EXPECTED
    for name in documents.__all__:
        assert hasattr(documents, name), name


def test_public_names_have_docstrings() -> None:
    for name in documents.__all__:
        value = getattr(documents, name)
        if inspect.isclass(value) or inspect.isfunction(value):
            assert inspect.getdoc(value), name


def imported_modules(path: Path) -> list[str]:
    modules: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module:
            modules.append(node.module)
        elif isinstance(node, ast.Import):
            modules.extend(alias.name for alias in node.names)
    return modules


def test_the_package_imports_only_what_its_tier_allows() -> None:
    # DESIGN.md: the stdlib, pypdf, ragkit.errors and ragkit.types.
    allowed = set(sys.stdlib_module_names) | {"pypdf", "__future__"}
    for path in Path(documents.__file__).parent.glob("*.py"):
        for module in imported_modules(path):
            if module.startswith("ragkit."):
                ok = module.startswith("ragkit.documents") or module in (
                    "ragkit.errors",
                    "ragkit.types",
                )
            else:
                ok = module.split(".")[0] in allowed
            assert ok, f"{path.name} imports {module}"
