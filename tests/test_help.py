"""Every entry point's ``--help`` says all it was written to say, not its first line."""

from __future__ import annotations

import pytest

from tasklab import configs_cli, reproduce
from tasklab.report import compare, summary
from tasklab.runs import status


@pytest.mark.parametrize("module", [compare, summary, reproduce, status, configs_cli])
def test_help_prints_the_whole_description(module, capsys):
    with pytest.raises(SystemExit) as exit_info:
        module.main(["--help"])
    assert exit_info.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    first_paragraph = module.__doc__.strip().split("\n\n")[0]
    assert " ".join(first_paragraph.split()) in out  # not cut at its first line
