#!/usr/bin/env bash
# Regenerate src/worldtwin/telemetry/sources/sparkplug_b_pb2.py(+.pyi) from sparkplug_b.proto.
# Dev time only: protoc comes from grpcio-tools in a throwaway venv, so neither grpcio-tools nor
# grpcio becomes a dependency of worldtwin. The generated module needs only `protobuf` at run time;
# its gencode version sets the lower bound of protobuf in the `mqtt` extra (pyproject.toml).
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${PROTOC_VENV:-/tmp/worldtwin-protoc-venv}"
[ -x "$venv/bin/python" ] || python3 -m venv "$venv"
"$venv/bin/pip" install --quiet "grpcio-tools==1.85.1"
dir=src/worldtwin/telemetry/sources
"$venv/bin/python" -m grpc_tools.protoc --proto_path="$dir" --python_out="$dir" --pyi_out="$dir" "$dir/sparkplug_b.proto"
echo "generated $dir/sparkplug_b_pb2.py and .pyi with $("$venv/bin/python" -m grpc_tools.protoc --version)"
