"""tasklab's packaged configs: Hydra composes them through ``pkg://tasklab.conf``.

They live inside the package so an installed tasklab (not only a source checkout) finds them;
a user's own folder of configs composes with them (``--config-dir``; see docs/guide/running.md).
"""

from pathlib import Path

CONFIG_PATH = "pkg://tasklab.conf"
CONF_DIR = Path(__file__).resolve().parent
