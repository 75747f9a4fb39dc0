"""The service wheel (what deploy/Dockerfile's `pip install .` installs) carries the three
services and touchpoint_common, and none of the development-only tooling."""

from __future__ import annotations

import configparser
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from tests.deploy.conftest import DEPLOY, ROOT

SERVICE_PACKAGES = (
    "touchpoint_common",
    "touchpoint_ingest",
    "touchpoint_profile",
    "touchpoint_recommend",
)
DEV_ONLY = ("touchpoint_devtools", "devservers", "generator", "simulate")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    """The wheel built from the repository root, as the image's `pip install .` builds it."""
    out = tmp_path_factory.mktemp("wheel")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "--quiet",
            "--wheel-dir",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    [built] = out.glob("touchpoint-*.whl")
    return zipfile.ZipFile(built)


def _top_level_packages(names: list[str]) -> set[str]:
    return {name.split("/", 1)[0] for name in names if "/" in name and ".dist-info/" not in name}


def test_wheel_holds_the_services_and_common(wheel: zipfile.ZipFile) -> None:
    """Each service's app and the shared runtime (including the ops CLI) are in the wheel."""
    names = wheel.namelist()
    assert _top_level_packages(names) == set(SERVICE_PACKAGES)
    for service in ("ingest", "profile", "recommend"):
        assert f"touchpoint_{service}/main.py" in names
    assert "touchpoint_common/ops/cli.py" in names


def test_wheel_has_no_development_tooling(wheel: zipfile.ZipFile) -> None:
    """No dev servers, traffic generator or simulation code, under any package."""
    offending = [
        name
        for name in wheel.namelist()
        if any(part.removesuffix(".py") in DEV_ONLY for part in name.split("/"))
    ]
    assert offending == []


def test_wheel_code_never_imports_the_development_tooling(wheel: zipfile.ZipFile) -> None:
    """No module of the wheel refers to touchpoint_devtools, which the image lacks."""
    importing = [
        name
        for name in wheel.namelist()
        if name.endswith(".py") and b"touchpoint_devtools" in wheel.read(name)
    ]
    assert importing == []


def test_wheel_scripts_point_into_the_wheel(wheel: zipfile.ZipFile) -> None:
    """Every console script the image would install names a module the wheel contains, and
    none names the development tooling."""
    parser = configparser.ConfigParser()
    for name in wheel.namelist():
        if name.endswith(".dist-info/entry_points.txt"):
            parser.read_string(wheel.read(name).decode())
    scripts = dict(parser["console_scripts"]) if parser.has_section("console_scripts") else {}
    names = set(wheel.namelist())
    for script, target in scripts.items():
        module = target.split(":", 1)[0]
        assert not any(word in module for word in DEV_ONLY), (script, target)
        path = module.replace(".", "/")
        assert f"{path}.py" in names or f"{path}/__init__.py" in names, (script, target)


def test_docker_context_leaves_out_the_development_tooling() -> None:
    """deploy/Dockerfile.dockerignore keeps shared/touchpoint_devtools out of the build
    context, so not even the build stage sees it."""
    patterns = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    assert "shared/touchpoint_devtools" in patterns


def test_development_tooling_is_importable_in_the_dev_install() -> None:
    """The editable install (`make install`) still reaches touchpoint_devtools."""
    import touchpoint_devtools.devservers
    import touchpoint_devtools.generator
    import touchpoint_devtools.simulate

    assert Path(touchpoint_devtools.devservers.__file__).is_relative_to(ROOT / "shared")
