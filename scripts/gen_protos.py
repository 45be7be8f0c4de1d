"""Regenerate durabletask/_proto/ from protos/ with grpcio-tools.

Run from anywhere: ``python scripts/gen_protos.py``. The generated files are committed; never edit them.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from grpc_tools import protoc

ROOT = Path(__file__).resolve().parent.parent
PROTO_DIR = ROOT / "protos"
OUT_DIR = ROOT / "durabletask" / "_proto"


def main() -> int:
    import grpc_tools

    include = Path(grpc_tools.__file__).parent / "_proto"
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    protos = sorted(PROTO_DIR.glob("*.proto"))
    args = [
        "grpc_tools.protoc",
        f"-I{PROTO_DIR}",
        f"-I{include}",
        f"--python_out={OUT_DIR}",
        f"--pyi_out={OUT_DIR}",
        f"--grpc_python_out={OUT_DIR}",
        *[str(p) for p in protos],
    ]
    if protoc.main(args) != 0:
        print("protoc failed", file=sys.stderr)
        return 1
    # grpc_tools writes absolute imports of sibling modules; make them package-relative.
    for grpc_file in OUT_DIR.glob("*_pb2_grpc.py"):
        text = grpc_file.read_text()
        text = re.sub(r"^import (\w+_pb2) as", r"from . import \1 as", text, flags=re.M)
        grpc_file.write_text(text)
    (OUT_DIR / "__init__.py").write_text('"""Generated gRPC stubs (scripts/gen_protos.py). Do not edit."""\n')
    print(f"generated {len(protos)} proto file(s) into {OUT_DIR.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
