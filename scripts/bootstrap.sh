#!/usr/bin/env bash
# Create or reuse the project's virtual environment and install what is missing.
#
# Why a script: an unpinned `torch` requirement on a machine without torch pulls a multi-GB
# CUDA build, so the pinned CPU wheel is installed first where no torch is importable, and a
# torch the user already has (their own GPU build, say) is reused and never replaced.
#
#   TASKLAB_VENV   where the environment lives            (default: .venv)
#   PYTHON         interpreter that creates it            (default: python3)
#   TORCH_SPEC     torch to install when none is present  (default: torch==2.13.0)
#   TORCH_PIP_ARGS extra pip arguments for that install, e.g. an index of CPU wheels
#   TASKLAB_EXTRAS the project's extras to install         (default: dev; dev,vision for
#                  standard networks: make setup-vision, which pairs torch and torchvision)
set -euo pipefail
cd "$(dirname "$0")/.."

venv=${TASKLAB_VENV:-.venv}
python=${PYTHON:-python3}
torch_spec=${TORCH_SPEC:-torch==2.13.0}
stamp="$venv/.tasklab-installed"

if [ ! -x "$venv/bin/python" ]; then
    if "$python" -c "import torch" >/dev/null 2>&1; then
        echo "bootstrap: reusing the torch of $python ($("$python" -c 'import torch; print(torch.__version__)'))"
        "$python" -m venv --system-site-packages "$venv"
    else
        "$python" -m venv "$venv"
    fi
fi
pip=("$venv/bin/python" -m pip --disable-pip-version-check)

if ! "$venv/bin/python" -c "import torch" >/dev/null 2>&1; then
    echo "bootstrap: no torch found, installing $torch_spec"
    # shellcheck disable=SC2086
    read -ra torch_specs <<< "$torch_spec"  # one or more requirements (torch and torchvision)
    "${pip[@]}" install -q "${torch_specs[@]}" ${TORCH_PIP_ARGS:-}
fi

if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ] \
        || ! "$venv/bin/python" -c "import tasklab" >/dev/null 2>&1; then
    echo "bootstrap: installing tasklab and its dependencies into $venv"
    "${pip[@]}" install -q -e ".[${TASKLAB_EXTRAS:-dev}]"
    touch "$stamp"
fi

if [ -z "${TASKLAB_CUDA_EXPECTED:-}" ] && ! command -v nvidia-smi >/dev/null 2>&1 \
        && "${pip[@]}" list 2>/dev/null | grep -qi '^nvidia-'; then
    echo "bootstrap: warning: CUDA packages are installed in $venv on a machine without a GPU;" \
         "recreate it with 'rm -rf $venv' and install a CPU torch first (TORCH_SPEC)." >&2
fi
