#!/usr/bin/env bash
# Create .venv-external: the external plant simulators used by benchmarks/world_model_eval.py, kept apart
# from the main .venv so its numpy (and torch) stay untouched.
#
#   pcgym 0.1.8                  lean install without torch: --no-deps, then its run-time needs by hand;
#                                its NMPC oracle needs numpy < 2.4 (see shared/reference/external-plants.md)
#   industrial-benchmark-python  Siemens Industrial Benchmark; depends on the old `gym` 0.26.2 and calls
#                                np.float (the collector sets numpy.float = float before building IDS)
#
# Usage: benchmarks/external/setup.sh        (idempotent; PYTHON=python3.11 to pick the interpreter)
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-python3}"
VENV=.venv-external
if [ -f "$VENV/.installed" ]; then
  echo "$VENV is ready"
  exit 0
fi
[ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/python" -m pip install --quiet --upgrade pip
"$VENV/bin/pip" install --quiet "numpy<2.4" pandas pyarrow gymnasium casadi "jax[cpu]" equinox diffrax do-mpc \
  matplotlib tqdm cloudpickle "gym==0.26.2"
"$VENV/bin/pip" install --quiet --no-deps "pcgym==0.1.8" "industrial-benchmark-python==2.0"
"$VENV/bin/python" -c "import numpy, pcgym, industrial_benchmark_python; print('external plants ready, numpy', numpy.__version__)"
touch "$VENV/.installed"
