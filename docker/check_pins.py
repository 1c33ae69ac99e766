"""Fail when the installed Python packages are not the versions this project pins.

Run by the Dockerfile after it installs requirements.txt with constraints.txt, so an image whose packages
drifted from local ones does not build, and by tests/unit/test_deployment.py on the local virtualenv, so the
check itself is tested:

    python docker/check_pins.py requirements.txt constraints.txt

Checked: every `name==version` of requirements.txt, and every package those depend on (transitively, with
the markers of this interpreter) against constraints.txt. Astronomer's own builds carry a local version label
(apache-airflow 3.3.2+astro.1); the public part is what must match. Packages the image has for itself (Astro's
providers, say) are not ours to pin and are not checked. Standard library only, plus `packaging`, which
Airflow depends on.
"""

from __future__ import annotations

import re
import sys
from importlib import metadata
from pathlib import Path

from packaging.markers import default_environment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;#]+)")


def read_pins(path: str | Path) -> dict[str, str]:
    """`name==version` lines of a requirements or constraints file, by canonical name."""
    pins = {}
    for line in Path(path).read_text().splitlines():
        match = _PIN.match(line.strip())
        if match:
            pins[canonicalize_name(match[1])] = match[2]
    return pins


def installed_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name:
            versions.setdefault(canonicalize_name(name), dist.version)  # first on sys.path wins, as for import
    return versions


def _requires(name: str, extras: frozenset[str]) -> list[tuple[str, frozenset[str]]]:
    try:
        lines = metadata.requires(name) or []
    except metadata.PackageNotFoundError:
        return []
    environment = default_environment()
    found = []
    for line in lines:
        try:
            req = Requirement(line)
        except InvalidRequirement:
            continue
        if req.marker and not any(req.marker.evaluate({**environment, "extra": e}) for e in extras | {""}):
            continue
        found.append((canonicalize_name(req.name), frozenset(req.extras)))
    return found


def dependency_closure(roots: list[str]) -> set[str]:
    """The roots and every package they require on this interpreter, extras followed."""
    seen: set[tuple[str, frozenset[str]]] = set()
    todo = [(canonicalize_name(r), frozenset()) for r in roots]
    while todo:
        item = todo.pop()
        if item not in seen:
            seen.add(item)
            todo.extend(_requires(*item))
    return {name for name, _ in seen}


def _same(installed: str, pinned: str) -> bool:
    return Version(Version(installed).public) == Version(pinned)


def check(requirements: str | Path, constraints: str | Path) -> tuple[list[str], list[str]]:
    """(problems, warnings): problems fail the build; warnings name dependencies with no pin."""
    required, frozen = read_pins(requirements), read_pins(constraints)
    versions = installed_versions()
    problems = []
    for name, pinned in sorted(required.items()):
        if name not in versions:
            problems.append(f"{name}: pinned {pinned} in {requirements}, not installed")
        elif not _same(versions[name], pinned):
            problems.append(f"{name}: pinned {pinned} in {requirements}, installed {versions[name]}")
        if name in frozen and frozen[name] != pinned:
            problems.append(f"{name}: {pinned} in {requirements} but {frozen[name]} in {constraints}")
    warnings = []
    for name in sorted(dependency_closure(list(required)) - set(required)):
        if name not in versions:
            continue  # an optional dependency this interpreter does not need
        if name not in frozen:
            warnings.append(f"{name}: installed {versions[name]}, not pinned in {constraints}")
        elif not _same(versions[name], frozen[name]):
            problems.append(f"{name}: pinned {frozen[name]} in {constraints}, installed {versions[name]}")
    return problems, warnings


def main(argv: list[str]) -> int:
    if len(argv) not in (0, 2):
        print("usage: check_pins.py [REQUIREMENTS CONSTRAINTS]", file=sys.stderr)
        return 2
    requirements, constraints = argv or ("requirements.txt", "constraints.txt")
    problems, warnings = check(requirements, constraints)
    for warning in warnings:
        print(f"WARNING {warning}", file=sys.stderr)
    for problem in problems:
        print(f"MISMATCH {problem}", file=sys.stderr)
    if problems:
        print(f"{len(problems)} package(s) differ from the project's pins", file=sys.stderr)
        return 1
    print(f"every pin of {requirements} and of their dependencies in {constraints} is installed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
