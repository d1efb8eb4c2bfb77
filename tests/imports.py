"""What a package of ours imports, read from its source: for the tests that keep the
architecture's lines (the engine pure, channels apart, the interview layer on ports)."""

from __future__ import annotations

import ast
import pathlib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def absolute_imports(package: str) -> list[tuple[str, str]]:
    """(file relative to the package, module imported) for every absolute import in
    the source tree beside the tests, not whatever `import package` finds first."""
    root = ROOT / package
    assert (root / "__init__.py").exists(), f"no package {package} at {root}"
    found = []
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                found += [(str(path.relative_to(root)), alias.name) for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                found.append((str(path.relative_to(root)), node.module))
    return found
