"""A machine without the zh_CN.GB18030 locale gets one line and exit status 1 from a CTP
command, never the binding's abort (134).

Invariant: the binding is imported only after a child process proved it can be; an
environment problem is a clear one-line refusal saying how to fix it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO
from tests.ctp_binding import require_ctp_binding

require_ctp_binding()  # before any test imports the binding (it may abort)


SECRETS = {
    "BASTION_SIMNOW_CTP_USER": "000001",
    "BASTION_SIMNOW_CTP_PASSWORD": "simnow-pass-1",
    "BASTION_SIMNOW_CTP_AUTH_CODE": "0000000000000000",
}


def _env(locpath: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BASTION_")}
    return {**env, **SECRETS, "LOCPATH": str(locpath), "PYTHONPATH": str(REPO)}


def test_binding_import_without_the_locale_aborts_the_process(tmp_path: Path) -> None:
    """The trap itself: without the locale the binding kills Python (so the guard matters)."""
    child = subprocess.run(
        [sys.executable, "-c", "import openctp_ctp"],
        env=_env(tmp_path),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert child.returncode in (134, -6), child


def test_ctp_probe_without_the_locale_refuses_in_one_line_with_exit_1(tmp_path: Path) -> None:
    shutil.copytree(REPO / "examples", tmp_path / "examples")
    empty = tmp_path / "no-locales"
    empty.mkdir()
    child = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from bastion.cli import main; main(sys.argv[1:])",
            "probe",
            "--profile",
            "examples/simnow.yaml",
        ],
        cwd=tmp_path,
        env=_env(empty),
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert child.returncode == 1, (child.returncode, child.stdout, child.stderr)
    lines = child.stderr.strip().splitlines()
    assert len(lines) == 1, child.stderr
    assert "zh_CN.GB18030" in lines[0]
    assert "localedef -i zh_CN -f GB18030 zh_CN.GB18030" in lines[0]
    assert "Traceback" not in child.stderr + child.stdout
