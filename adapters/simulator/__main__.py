"""`python -m adapters.simulator [--port 8765] [--seed N] [--faults SPEC] [--schools N]`.

The same as `connector simulator`; handy before the CLI is wired. Prints one line with the base
URL to stderr (nothing personal); `GET /_sim/schools` lists the demo API keys.
"""

from __future__ import annotations

import argparse
import sys

from .config import FaultSpecError, demo_config, parse_fault_spec
from .server import run


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, serve until SIGINT/SIGTERM; 2 on a bad --faults spec."""
    parser = argparse.ArgumentParser(prog="python -m adapters.simulator")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--schools", type=int, default=2)
    parser.add_argument("--faults", default="", help="e.g. rate=0.2,latency=50ms,revoke_token_after=30")
    args = parser.parse_args(argv)
    try:
        faults = parse_fault_spec(args.faults)
    except FaultSpecError as exc:
        print(exc, file=sys.stderr)
        return 2
    run(demo_config(seed=args.seed, faults=faults, schools=args.schools), args.host, args.port)
    return 0


if __name__ == "__main__":
    sys.exit(main())
