"""``python -m bench [ack|delivery|calls|load|intake|telegram|mixed ...] [--quick] [--json]``

Runs the scenarios (all by default, in that order) and prints one table. Progress goes to
stderr. With ``--json`` the table also goes to stderr and stdout carries only the JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import logging
import sys
import traceback

from bench import ack, calls, delivery, intake, load, mixed, tg
from bench.harness import log
from bench.profile import FULL, QUICK, Profile
from bench.report import Report

SCENARIOS = {module.NAME: module for module in (ack, delivery, calls, load, intake, tg, mixed)}


async def run_all(names: list[str], report: Report, profile: Profile) -> int:
    failed = 0
    for name in names:
        try:
            await SCENARIOS[name].run(report, profile)
        except Exception as error:
            failed += 1
            log(f"{name} failed:\n{traceback.format_exc()}")
            report.add(name, "scenario failed", f"{type(error).__name__}: {error}"[:200])
    return failed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument(
        "scenarios",
        nargs="*",
        metavar="scenario",
        help=f"any of {', '.join(SCENARIOS)} (default: all)",
    )
    parser.add_argument("--quick", action="store_true", help="smaller counts, under a minute")
    parser.add_argument("--json", action="store_true", help="also write the results as JSON")
    parser.add_argument(
        "--strict-nonces",
        action="store_true",
        help="the fake Wiro refuses a nonce lower than one it has seen (its own default)",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.scenarios if name not in SCENARIOS]
    if unknown:
        parser.error(f"unknown scenario {unknown[0]!r}; choose from {', '.join(SCENARIOS)}")
    names = [name for name in SCENARIOS if name in args.scenarios] or list(SCENARIOS)

    # The stand-in and the fake Wiro log in this process; keep them (and aiohttp) quiet.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    profile = QUICK if args.quick else FULL
    if args.strict_nonces:
        profile = dataclasses.replace(profile, nonce_window_ms=0)
        report_note = "--strict-nonces: the fake Wiro refused nonces lower than one already seen"
    else:
        report_note = ""
    report = Report(quick=args.quick)
    if report_note:
        report.note(report_note)
    failed = asyncio.run(run_all(names, report, profile))
    table = report.table()
    if args.json:
        print(table, file=sys.stderr)
        print(report.as_json())
    else:
        print(table)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
