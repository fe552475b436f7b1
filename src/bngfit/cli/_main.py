"""Command-line interface: ``bngfit validate | evaluate | simulate | check-grad``.

Exit codes are part of the interface: 0 success, 2 bad input (including a
missing optional extra or a bad option value), 1 simulation failure at the
requested point, 130 interrupted (Ctrl-C), 143 terminated (SIGTERM), 141 the
reader of standard output went away. Errors are printed as one clear
paragraph on stderr; ``--debug`` adds the traceback. Only this module,
:mod:`bngfit.cli._fit` and :mod:`bngfit.cli._check` print; standard output carries
only what they print
(see :mod:`bngfit.cli._io`).
"""

from __future__ import annotations

import argparse
import contextlib
import difflib
import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType
from typing import NoReturn

from bngfit.errors import BngfitError, InputError, MissingExtraError
from bngfit.objective._status import EvalStatus
from bngfit.optimize._executors import Terminated
from bngfit.petab._simtable import simulation_table
from bngfit.problem import _load as loader

from . import _args as cli_args
from . import _check as cli_check
from . import _fit as cli_fit
from . import _io as cli_io
from ._check import cmd_check_grad
from ._common import SimulationError, num, objective_and_point, tolerance_line

EXIT_OK = 0
EXIT_SIM = 1
EXIT_INPUT = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
EXIT_PIPE = 141  # 128 + SIGPIPE, what a tool killed by the broken pipe reports


class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error: the option, the value and what to do."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_INPUT, f"{self.prog}: bad option: {message} (see {self.prog} "
                              "--help)\n")


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("bngfit")
    except PackageNotFoundError:  # run from a source tree without installing
        return "(not installed)"


def _parser() -> argparse.ArgumentParser:
    p = _Parser(
        prog="bngfit",
        description="Fit ODE models of biochemical networks with exact, checked gradients.",
    )
    p.add_argument("--debug", action="store_true", help="show tracebacks and debug logs")
    p.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def problem_cmd(name: str, help_text: str) -> argparse.ArgumentParser:
        s = sub.add_parser(name, help=help_text, description=help_text)
        s.add_argument("problem", metavar="PROBLEM", help="PEtab v1 YAML file or PyBNF .conf")
        s.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks and debug logs")
        return s

    def point_opts(s: argparse.ArgumentParser) -> None:
        s.add_argument("--point", metavar="SOURCE",
                       help="the point: a TSV with columns parameterId, value (each on its "
                            "parameter's scale); a PEtab parameter table (nominalValue, "
                            "native values, such as the one fit writes); or a result store, "
                            "STORE (its best start) or STORE:INDEX (start INDEX); a value "
                            "for every free parameter (default: the nominal values)")
        s.add_argument("--fill-nominal", action="store_true",
                       help="free parameters the --point file does not list take their "
                            "nominal value (default: an error naming them)")
        s.add_argument("--rtol", type=cli_args.positive_float(1.0), default=1e-8,
                       help="ODE relative tolerance, above 0 and below 1 (default 1e-8)")
        s.add_argument("--atol", type=cli_args.positive_float(), default=1e-10,
                       help="ODE absolute tolerance, above 0 (default 1e-10)")

    problem_cmd("validate", "List what is wrong with a problem's inputs (exit 0 when clean).")
    ev = problem_cmd("evaluate", "Negative log-likelihood, chi2 and gradient at a point.")
    point_opts(ev)
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    si = problem_cmd("simulate", "Write a PEtab simulation table at a point.")
    point_opts(si)
    si.add_argument("-o", "--output", required=True, metavar="SIM.tsv",
                    help="simulation table to write (required)")
    cli_check.add_options(problem_cmd("check-grad", cli_check.HELP), point_opts)

    def common(s: argparse.ArgumentParser) -> None:
        s.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                       help="show tracebacks and debug logs")

    cli_fit.add_commands(sub, common)
    return p


# ------------------------------------------------------------------ commands
def cmd_validate(args: argparse.Namespace) -> int:
    """``bngfit validate``: list the issues of a problem's inputs."""
    _, items = loader.check_problem(args.problem)
    for item in items:
        print(item.format())
    n_err = sum(i.severity == "error" for i in items)
    if n_err:
        print(f"{n_err} error(s) in {args.problem}", file=sys.stderr)
        return EXIT_INPUT
    print(f"{args.problem}: no errors" + (f", {len(items)} warning(s)" if items else ""))
    return EXIT_OK


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``bngfit evaluate``: fval, llh, chi2 and gradient at a point."""
    _, obj, x = objective_and_point(args)
    ev = obj(x, sensi=1)
    if args.json:
        out = {
            "fval": num(ev.fval),
            "llh": num(ev.llh),
            "chi2": num(ev.chi2),
            **({"log_prior": num(-ev.prior), "log_posterior": num(ev.log_posterior)}
               if obj.priors is not None else {}),
            "grad": {n: num(g) for n, g in zip(obj.x_names, ev.grad, strict=True)},
            "point": {n: float(v) for n, v in zip(obj.x_names, x, strict=True)},
            "status": ev.status,
            "rtol": obj.settings.rtol, "atol": obj.settings.atol,
        }
        if not ev.ok:
            out["message"] = ev.message
        print(json.dumps(out, indent=2))
    if not ev.ok:
        raise SimulationError(ev.message)
    if not args.json:
        if obj.priors is None:
            print(f"fval  {ev.fval:.10g}   (negative log-likelihood)")
            print(f"llh   {ev.llh:.10g}")
        else:
            print(f"fval  {ev.fval:.10g}   (negative log-posterior: the objective priors "
                  "included)")
            print(f"llh   {ev.llh:.10g}   (without the priors)")
            print(f"log-prior      {-ev.prior:.10g}")
            print(f"log-posterior  {ev.log_posterior:.10g}")
        print(f"chi2  {ev.chi2:.10g}")
        print(tolerance_line(obj))
        if obj.x_names:
            width = max(len(n) for n in obj.x_names)
            print("gradient (d fval / d x, optimizer space):")
            for n, g in zip(obj.x_names, ev.grad, strict=True):
                print(f"  {n:<{width}}  {g: .10g}")
    return EXIT_OK


def cmd_simulate(args: argparse.Namespace) -> int:
    """``bngfit simulate``: write the simulation table at a point."""
    problem, obj, x = objective_and_point(args)
    ev = obj.simulate(x)
    if not ev.ok and ev.status == EvalStatus.SIMULATION_FAILED:
        raise SimulationError(ev.message)
    out = Path(args.output)
    try:
        simulation_table(problem, ev.simulation).to_csv(out, sep="\t", index=False,
                                                         float_format="%.17g")
    except OSError as err:
        raise InputError(f"cannot write the simulation table: {err.strerror or err}",
                         file=str(out)) from None
    print(f"wrote {len(problem.measurements)} simulated values to {out}")
    return EXIT_OK


def _input_message(err: InputError) -> str:
    """One paragraph for one issue; a count and one line per issue for several."""
    errors = [i for i in err.issues if i.severity == "error"] or err.issues
    if len(errors) <= 1:
        return f"bngfit: bad input: {err}"
    lines = [f"bngfit: bad input: {len(errors)} errors (bngfit validate lists them too):"]
    lines += ["  " + i.format().removeprefix("error: ") for i in errors]
    return "\n".join(lines)


COMMANDS = {
    "validate": cmd_validate,
    "evaluate": cmd_evaluate,
    "simulate": cmd_simulate,
    "check-grad": cmd_check_grad,
    **cli_fit.COMMANDS,
}


def _skip_slow_optional_imports() -> None:
    """Keep jsonschema (imported by petab) from loading ``rfc3987_syntax``.

    When that package is installed (Jupyter's dependencies pull it in), jsonschema
    imports it for its IRI format checks, and it compiles dozens of lark grammars
    at import, which slows the start of every command. No PEtab schema uses a
    format check, so the command line's own process goes without it (jsonschema
    treats it as not installed); a library user's process is left alone.
    """
    if "jsonschema" not in sys.modules:
        sys.modules.setdefault("rfc3987_syntax", None)


@contextlib.contextmanager
def _sigterm_raises() -> Iterator[None]:
    """Turn SIGTERM into :class:`~bngfit.optimize._executors.Terminated` while the block runs.

    Only the main thread can receive Python's signal handlers. A second SIGTERM
    while the first one unwinds ends the process at once (the default action),
    and so does SIGTERM in a process forked meanwhile that kept the handler (a
    pool worker): neither should run this command's cleanup.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pid = os.getpid()
    fired = False

    def handler(signum: int, frame: FrameType | None) -> None:
        nonlocal fired
        if fired or os.getpid() != pid:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)
            return
        fired = True
        raise Terminated(signum)

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; return the exit code."""
    _skip_slow_optional_imports()
    try:
        args = _parse(_parser(), argv)
    except SystemExit as done:  # --help, or a bad option (already reported)
        return done.code if isinstance(done.code, int) else EXIT_INPUT
    with (cli_io.configure_logging(args.debug), cli_io.StandardStreams(),
          _sigterm_raises()):
        return _run(args)


def _parse(parser: argparse.ArgumentParser, argv: list[str] | None) -> argparse.Namespace:
    """Parse ``argv``; an unknown option gets the command's usage and the nearest option."""
    args, extra = parser.parse_known_args(argv)
    if not extra:
        return args
    target = parser
    for action in parser._actions:  # the subcommands' parsers, to name the right usage
        if isinstance(action, argparse._SubParsersAction):
            target = action.choices.get(getattr(args, "command", None), parser)
    known = [o for o in target._option_string_actions if o.startswith("--")]
    words = []
    for token in extra:
        option = token.split("=", 1)[0]
        near = difflib.get_close_matches(option, known, n=1, cutoff=0.6) if (
            option.startswith("-")) else []
        words.append(f"{token} (did you mean {near[0]}?)" if near else token)
    target.print_usage(sys.stderr)
    target.error("unrecognized arguments: " + " ".join(words))


def _run(args: argparse.Namespace) -> int:
    """Run the parsed command; report every way it can end as one paragraph."""
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()  # a reader that went away is found here, not at exit
        return code
    except BrokenPipeError:  # e.g. `bngfit show STORE | head -1`
        cli_io.silence_stdout()
        return EXIT_PIPE
    except InputError as err:
        if args.debug:
            raise
        print(_input_message(err), file=sys.stderr)
        return EXIT_INPUT
    except MissingExtraError as err:
        if args.debug:
            raise
        print(f"bngfit: missing optional dependency: {err}", file=sys.stderr)
        return EXIT_INPUT
    except SimulationError as err:
        print(f"bngfit: simulation failed: {err}", file=sys.stderr)
        return EXIT_SIM
    except BngfitError as err:
        if args.debug:
            raise
        print(f"bngfit: {err}", file=sys.stderr)
        return EXIT_SIM
    except KeyboardInterrupt:
        print(f"bngfit: interrupted{cli_fit.interrupted_note(args)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Terminated as err:
        name = str(err).removeprefix("terminated by ")
        print(f"bngfit: terminated ({name}){cli_fit.interrupted_note(args)}", file=sys.stderr)
        return err.exit_code
    except OSError as err:  # the system, not bngfit: a full disk, a lost connection
        if args.debug:
            raise
        where = f" ({err.filename})" if err.filename else ""
        print(f"bngfit: system error: {err.strerror or err}{where}", file=sys.stderr)
        return EXIT_SIM
    except Exception as err:  # a bug: still one paragraph, the traceback on --debug
        if args.debug:
            raise
        print(f"bngfit: internal error ({type(err).__name__}: {err}); rerun with --debug "
              "for the traceback and please report it", file=sys.stderr)
        return EXIT_SIM

