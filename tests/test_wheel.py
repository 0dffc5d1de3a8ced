"""The built wheel works on its own: resources inside the package, a password check and
`alko-desk --version` from a fresh virtual environment that does not see this checkout.

No network: the wheel is built with this .venv's setuptools (`--no-build-isolation`), and its
dependencies are installed `--no-index` from a wheelhouse repacked from the packages this
.venv already has. Skipped (with the reason) only when a wheel cannot be built here at all.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import warnings
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
NOT_SOURCE = shutil.ignore_patterns(
    ".git", ".venv", ".tools", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
    ".pytest_cache", ".ruff_cache", ".hypothesis", "screenshots", "docs",
)  # fmt: skip
# The installed copies carry these; a wheel must not (pip writes them at install time).
INSTALL_ONLY = {"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"}


def _run(*args: str | Path, cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "ALKO_", "PIP_"))}
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        env={**env, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"},
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _canonical(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def _runtime_closure(root: str) -> list[metadata.Distribution]:
    """The installed distributions `root` needs at run time (no extras)."""
    from packaging.requirements import Requirement

    installed = {_canonical(d.metadata["Name"]): d for d in metadata.distributions()}
    seen: dict[str, metadata.Distribution] = {}
    todo = [_canonical(root)]
    while todo:
        name = todo.pop()
        dist = installed[name]
        for text in dist.requires or []:
            req = Requirement(text)
            if req.marker and not req.marker.evaluate({"extra": ""}):
                continue
            dep = _canonical(req.name)
            if dep not in seen:
                seen[dep] = installed[dep]
                todo.append(dep)
    return list(seen.values())


def _repack(dist: metadata.Distribution, into: Path) -> Path:
    """A wheel of an installed distribution: its files under site-packages, a fresh RECORD."""
    from packaging.tags import sys_tags

    files = [f for f in dist.files or [] if ".." not in f.parts and f.suffix != ".pyc"]
    info_dir = next(f.parts[0] for f in files if f.parts[0].endswith(".dist-info"))
    wheel_meta = dist.read_text("WHEEL") or ""
    tags = [
        line.split(":", 1)[1].strip() for line in wheel_meta.splitlines() if line.startswith("Tag:")
    ]
    supported = {str(t) for t in sys_tags()}
    tag = next((t for t in tags if t in supported), "py3-none-any")
    name = dist.metadata["Name"].replace("-", "_").replace(".", "_")
    target = into / f"{name}-{dist.version}-{tag}.whl"
    record = []
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED) as wheel:
        for f in files:
            if f.parts[0] == info_dir and f.name in INSTALL_ONLY:
                continue
            data = Path(dist.locate_file(f)).read_bytes()
            wheel.writestr(str(f.as_posix()), data)
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{f.as_posix()},sha256={digest.decode()},{len(data)}")
        record.append(f"{info_dir}/RECORD,,")
        wheel.writestr(f"{info_dir}/RECORD", "\n".join(record) + "\n")
    return target


@pytest.fixture(scope="module")
def installed_venv(tmp_path_factory) -> Path:
    work = tmp_path_factory.mktemp("wheel")
    try:
        import setuptools  # noqa: F401
        import wheel  # noqa: F401
    except ImportError as exc:
        reason = f"cannot build a wheel offline here: {exc} (run scripts/setup.sh --tests)"
        warnings.warn(reason, stacklevel=1)  # shown in the summary, not only as an "s"
        pytest.skip(reason)
    source = work / "src"
    shutil.copytree(REPO, source, ignore=NOT_SOURCE)  # never build inside the checkout
    built = _run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
        "-w", work / "dist", source, cwd=work,
    )  # fmt: skip
    assert built.returncode == 0, built.stdout[-2000:] + built.stderr[-2000:]
    (wheel_file,) = (work / "dist").glob("alko_desk-*.whl")
    with zipfile.ZipFile(wheel_file) as zf:
        assert "alko_desk/resources/blocked-passwords.txt" in zf.namelist()
        assert not any(n.startswith("resources/") for n in zf.namelist())

    house = work / "wheelhouse"
    house.mkdir()
    for dist in _runtime_closure("alko-desk"):
        _repack(dist, house)
    venv = work / "venv"
    made = _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=work)
    assert made.returncode == 0, made.stderr
    python = venv / "bin" / "python"
    installed = _run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-index",
        "--find-links", house, wheel_file, cwd=work, timeout=240,
    )  # fmt: skip
    assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    return venv


CHECK = """
import alko_desk, sys
from pathlib import Path
from alko_desk.security.passwords import HashCost, PasswordHasher, password_problem
assert Path(alko_desk.__file__).is_relative_to(sys.prefix), alko_desk.__file__
assert "common or breached" in password_problem("alkocars123456789")  # the shipped list
assert "common or breached" in password_problem("P@ssw0rd2026!!!!")
assert password_problem("the blue lorry leaves at dawn 42") is None
hasher = PasswordHasher(HashCost(memory_kib=64, iterations=1, lanes=1))
stored, key = hasher.hash("the blue lorry leaves at dawn 42")
assert hasher.verify("the blue lorry leaves at dawn 42", stored) == key
assert hasher.verify("the blue lorry leaves at dawn 43", stored) is None
print("password check ok")
"""


@pytest.mark.timeout(300)
def test_the_wheel_installed_in_a_fresh_venv_checks_passwords_and_prints_its_version(
    installed_venv, tmp_path
):
    bin_dir = installed_venv / "bin"
    # -I: isolated, so neither this checkout nor the test's .venv can be imported by accident
    checked = _run(bin_dir / "python", "-I", "-c", CHECK, cwd=tmp_path)
    assert checked.returncode == 0, checked.stderr[-3000:]
    assert "password check ok" in checked.stdout
    version = _run(bin_dir / "alko-desk", "--version", cwd=tmp_path)
    assert version.returncode == 0, version.stderr[-3000:]
    assert version.stdout.strip() == "ALKO Desk 0.1.0"
    seen = _run(bin_dir / "python", "-I", "-c", "import sys; print(sys.path)", cwd=tmp_path)
    assert str(REPO) not in seen.stdout
