#!/usr/bin/env python3
"""Pack training cases (NIfTI folders) into one small file for training elsewhere (deepsc/pack.py says why).

    /usr/bin/python3 model/pack.py --data DIR [--data DIR ...] --out cases.pack.xz [--cache DIR]

Then, on the machine that trains: /usr/bin/python3 model/train.py --pack cases.pack.xz ...
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from deepsc.config import get_config  # noqa: E402
from deepsc.pack import write_pack  # noqa: E402
from train import prepare_all  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--config", default="light", choices=["light", "full"])
    ap.add_argument("--data", action="append", required=True, help="a cases folder (repeatable)")
    ap.add_argument("--cache", help="train.py's preprocessing cache folder, reused")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    cfg = get_config(args.config)
    cases = []
    for folder in args.data:
        cases += prepare_all(folder, cfg, Path(args.cache) if args.cache else None)[1]
    size = write_pack(cases, cfg.preprocess, Path(args.out))
    print(f"packed {len(cases)} cases into {args.out} ({size / 1e6:.1f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
