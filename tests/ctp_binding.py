"""Whether the CTP binding can load in this test run, found out without importing it here:
without the zh_CN.GB18030 locale the import would abort the whole run (exit 134)."""

from __future__ import annotations

import pytest

from bastion.errors import EnvironmentFault
from bastion.venues.ctp.runtime import check_runtime


def require_ctp_binding() -> None:
    """Skip the calling test module, saying why, unless the binding loads (checked in a
    child process, as Bastion itself does)."""
    try:
        check_runtime()
    except EnvironmentFault as exc:
        pytest.skip(f"the CTP binding cannot load here: {exc}", allow_module_level=True)
