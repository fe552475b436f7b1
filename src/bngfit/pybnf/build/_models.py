"""The models of a PyBNF configuration: binding, data runs, and names across models.

A legacy configuration may have several ``model = FILE : DATA, ...`` lines.
Each model is read on its own (:func:`model_parts`): a BNGL template gets the
``X__FREE`` placeholders it uses bound (other models' names are not its
business), its actions give the protocol and the suffixes its data files are
matched with; an SBML/Antimony model takes the declared free parameters that
are its own parameter ids, and its suffixes from the ``time_course`` lines that
name it (or no model); a declared free parameter that is a species of an
SBML/Antimony model sets its initial value (:mod:`bngfit.pybnf.build._initials`).
The free parameters are shared by name: one declared parameter is one
estimated value in every model that uses it.

Data runs are named after their data files (``X.exp`` -> ``X``), which is what
conditions are called. PyBNF keeps each model's simulations apart, so two
models may both have data named ``X``; bngfit prefixes such a name with its
model's name, ``MODEL.X`` (only names that do repeat across models: single
models keep their ids).

Edition 2 binds its models with :func:`template_info` (its data belong to
experiments, not model lines). Models are loaded, and BNGL networks generated,
only through the :class:`~bngfit.problem._model_info.ModelAccess` the caller hands in.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from bngfit.errors import InputError, UnsupportedError
from bngfit.files._bngl_cache import store_text
from bngfit.files._bngl_filter import filter_bngl
from bngfit.problem._model_info import ModelAccess, ModelInfo
from bngfit.problem._problem import ParameterSpec
from bngfit.pybnf._exp import ExpTable, read_exp
from bngfit.pybnf.bngl._protocol import Phase, protocol
from bngfit.pybnf.bngl._template import (
    Action,
    bind_free_parameters,
    bound_line_shift,
    free_parameters,
    parse_actions,
)
from bngfit.pybnf.conf._entries import ConditionEntry, ModelEntry, PybnfConfig

from ._initials import initial_species, refuse_unbound


@dataclass(frozen=True)
class Run:
    """One data file and the simulation it is compared with.

    ``name`` (the file stem, or ``MODEL.stem`` where several models have data
    of that name) is the condition id; ``suffix`` the action whose output is
    compared; ``mutant`` the mutant the action runs on, if any.
    """

    table: ExpTable | None  # None: a constraint file's simulation, without data
    name: str
    suffix: str
    mutant: ConditionEntry | None = None


@dataclass(frozen=True)
class ModelPart:
    """One model line of a legacy configuration, read.

    Attributes
    ----------
    entry : ModelEntry
        The configuration's model line (name: the file stem).
    info : ModelInfo
        The model as loaded (a BNGL template's bound copy).
    bngl : bool
    phases : tuple of Phase
        A BNGL template's protocol (:func:`bngfit.pybnf.bngl._protocol.protocol`).
    suffixes : frozenset of str
        The action suffixes its data files are matched with.
    binds : frozenset of str
        The declared free parameters this model takes: a template's
        ``X__FREE`` placeholders; an SBML model's parameters and species of
        those ids.
    runs : tuple of Run
        Its data files, its own then its mutants'.
    props : tuple of (Path, str)
        Its ``.prop`` files, each with the name of the run it reads.
    sim_runs : tuple of Run
        ``runs`` and the simulations of ``.prop`` files without data.
    initials : tuple of str
        The species of an SBML model whose initial value a free parameter of
        the same id sets, in declaration order (in ``binds`` too).
    """

    entry: ModelEntry
    info: ModelInfo
    bngl: bool
    phases: tuple[Phase, ...]
    suffixes: frozenset[str]
    binds: frozenset[str]
    runs: tuple[Run, ...]
    props: tuple[tuple[Path, str], ...]
    sim_runs: tuple[Run, ...]
    initials: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        """The model's name (its file stem)."""
        return self.entry.name


def model_parts(config: PybnfConfig, params: list[ParameterSpec], models: ModelAccess,
                exempt: frozenset[str] = frozenset()) -> list[ModelPart]:
    """Every model line read, its free parameters bound and its runs named.

    ``exempt`` holds declared parameters no model need use (an estimated noise
    parameter); a template that uses one has it bound like any other.

    Raises
    ------
    InputError
        A template that does not read or uses an undeclared ``X__FREE``; a
        declared free parameter no model uses (on its configuration line); a
        data or constraint file no action matches; two simulations of one name.
    UnsupportedError
        A free parameter of an SBML model that is also a plain parameter of a
        BNGL model (PyBNF would set it in one, bngfit in both); one that is a
        species of an SBML model whose initial value bngfit cannot set as
        PyBNF does.
    """
    parts = [_read_part(config, m, params, models) for m in config.models]
    _check_bindings(config, params, parts, exempt)
    return _named(config, parts)


def _read_part(config: PybnfConfig, model: ModelEntry, params: list[ParameterSpec],
               models: ModelAccess) -> ModelPart:
    f = config.path
    nominal = {p.id: p.nominal for p in params}
    bngl = model.path.suffix.lower() == ".bngl"
    if bngl:
        extra = config_actions(config, model.name)
        model_path, phases, free = _bngl_model(model.path, nominal, models, extra)
        suffixes = {ph.suffix for ph in phases if ph.suffix is not None}
    else:
        model_path, phases, free = model.path, (), ()
        suffixes = {a.suffix for a in config.actions
                    if a.fields.get("model") in (None, model.name)}
    runs, mutant_props = _runs(config, model, suffixes)
    props = [p for p in model.data if p.suffix.lower() == ".prop"]
    for p in props:
        if p.stem not in suffixes:
            raise InputError(f"no action of {model.path.name} has suffix '{p.stem}', so the "
                             f"constraints of {p.name} have no simulation to read (suffixes: "
                             f"{', '.join(sorted(suffixes)) or 'none'})", file=f,
                             row=model.line, id=p.stem, value=p.name)
    # A constraint file without data of its own still needs its simulation (a
    # mutant's: the base model's action run on the mutant).
    have = {r.name for r in runs}
    sim_runs = list(runs)
    for run in [*(Run(None, p.stem, p.stem) for p in props), *(r for _, r in mutant_props)]:
        if run.name not in have:
            have.add(run.name)
            sim_runs.append(run)
    info = models.info(model_path)
    initials = () if bngl else initial_species(params, info, model.path, f)
    binds = set(free) if bngl else {n for n in nominal if n in info.parameters}
    all_props = [*((p, p.stem) for p in props), *((p, r.name) for p, r in mutant_props)]
    return ModelPart(model, info, bngl, phases, frozenset(suffixes),
                     frozenset(binds | set(initials)), tuple(runs), tuple(all_props),
                     tuple(sim_runs), initials)


def _runs(config: PybnfConfig, model: ModelEntry, suffixes: set[str]
          ) -> tuple[list[Run], list[tuple[Path, Run]]]:
    """A model's data files, its own then each of its mutants', with what they are
    compared with; and its mutants' ``.prop`` files, each with the simulation it
    reads (named like a mutant's data file: ``<suffix><mutant name>.prop``).

    ``X.exp`` of the model line goes with the model's action of suffix ``X``; a
    mutant's ``<suffix><mutant name>.exp`` with the base model's action of that
    suffix, run on the mutant (PyBNF's ``mutant`` key). A file that matches no
    action, or a mutant's whose output name is also that of another data file
    or of an action of the model itself (PyBNF would overwrite one output with
    the other), is refused on its model or mutant line.
    """
    f = config.path
    known = sorted(suffixes)
    runs = []
    for p in model.data:
        if p.suffix.lower() == ".prop":
            continue  # constraints, read by the problem builder
        if p.stem not in suffixes:
            raise InputError(f"no action of {model.path.name} has suffix '{p.stem}', so "
                             f"{p.name} has nothing to be compared with (suffixes: "
                             f"{', '.join(known) or 'none'})", file=f, row=model.line,
                             id=p.stem, value=p.name)
        runs.append(Run(read_exp(p), p.stem, p.stem))
    taken: dict[str, str | None] = {r.name: None for r in runs}
    props: list[tuple[Path, Run]] = []
    for c in config.conditions:
        if c.model not in (None, model.name):
            continue  # a mutant of another model
        # data first, so a mutant's .prop may read the simulation of its own .exp
        for p in sorted(c.data, key=lambda q: q.suffix.lower() == ".prop"):
            stem = p.stem
            suffix = stem[: len(stem) - len(c.name)] if stem.endswith(c.name) else None
            if suffix not in suffixes:
                example = f"{known[0]}{c.name}{p.suffix}" if known else "none"
                raise InputError(
                    f"data file {p.name} of mutant '{c.name}' matches no simulation: PyBNF "
                    "names a mutant's data file after an action suffix of the base model "
                    f"followed by the mutant name (suffixes: {', '.join(known) or 'none'}; "
                    f"e.g. {example})", file=f, row=c.line, id=c.name, value=p.name)
            if p.suffix.lower() == ".prop":
                if stem in suffixes or taken.get(stem, c.name) != c.name:
                    raise InputError(
                        f"constraint file {p.name} of mutant '{c.name}' names the output "
                        f"'{stem}', which is also another simulation's: rename the mutant",
                        file=f, row=c.line, id=c.name, value=p.name)
                taken[stem] = c.name
                props.append((p, Run(None, stem, suffix, c)))
                continue
            if stem in taken or stem in suffixes:
                other = (f"the data of mutant '{taken[stem]}'" if taken.get(stem)
                         else f"the output of the model's own action or data '{stem}'")
                raise InputError(
                    f"data file {p.name} of mutant '{c.name}' names the output '{stem}', "
                    f"which is also {other}: rename the mutant so the names differ",
                    file=f, row=c.line, id=c.name, value=p.name)
            taken[stem] = c.name
            runs.append(Run(read_exp(p), stem, suffix, c))
    return runs, props


def _check_bindings(config: PybnfConfig, params: list[ParameterSpec],
                    parts: list[ModelPart], exempt: frozenset[str]) -> None:
    """Every declared free parameter is used by a model, and set only where PyBNF sets it."""
    f = config.path
    for p in params:
        if p.id in exempt:
            continue
        if not any(p.id in part.binds for part in parts):
            if len(parts) == 1:
                part = parts[0]
                if not part.bngl:
                    raise refuse_unbound(p.id, p.row, part.info, part.entry.path, f)
                uses = ", ".join(sorted(part.binds)) or "no NAME__FREE placeholder"
                raise InputError(f"free parameter is not a parameter of the model "
                                 f"({part.entry.path.name} uses {uses})",
                                 file=f, row=p.row, id=p.id)
            raise InputError("free parameter is used by none of the models ("
                             + ", ".join(part.entry.path.name for part in parts) + ")",
                             file=f, row=p.row, id=p.id)
        for part in parts:
            if part.bngl and p.id in part.info.parameters and p.id not in part.binds:
                raise UnsupportedError(
                    f"free parameter '{p.id}' is also a parameter of {part.entry.path.name}, "
                    "where PyBNF would not set it (BNGL models take NAME__FREE "
                    "placeholders); bngfit sets a free parameter in every model that has "
                    "it: rename one of them", file=f, row=p.row, id=p.id)


def _named(config: PybnfConfig, parts: list[ModelPart]) -> list[ModelPart]:
    """The parts with each run name that several models share prefixed ``MODEL.``."""
    count: dict[str, int] = {}
    for part in parts:
        for r in part.sim_runs:
            count[r.name] = count.get(r.name, 0) + 1
    if all(n == 1 for n in count.values()):
        return parts
    out = []
    for part in parts:
        renamed = {r.name: f"{part.name}.{r.name}" if count[r.name] > 1 else r.name
                   for r in part.sim_runs}
        for old, new in renamed.items():
            if new != old and new in count:
                raise InputError(f"data of model '{part.name}' named '{old}' is also data "
                                 f"of another model, and bngfit would call it '{new}', "
                                 "which another data file is called: rename a file",
                                 file=config.path, row=part.entry.line, id=new)

        def rename(runs: tuple[Run, ...], _renamed: dict[str, str] = renamed
                   ) -> tuple[Run, ...]:
            return tuple(dataclasses.replace(r, name=_renamed[r.name]) for r in runs)

        out.append(dataclasses.replace(
            part, runs=rename(part.runs), sim_runs=rename(part.sim_runs),
            props=tuple((p, renamed[name]) for p, name in part.props)))
    return out


def time_course_end(config: PybnfConfig, run: Run, model: str) -> float:
    """The simulated span of a data file of SBML model ``model`` (its time_course)."""
    match = [a for a in config.actions if a.kind == "time_course" and a.suffix == run.suffix
             and a.fields.get("model") in (None, model)]
    if not match:
        what = run.name if run.table is None else Path(run.table.path).name
        raise InputError(f"no time_course with suffix '{run.suffix}' for {what}",
                         file=config.path,
                         row=None if run.mutant is None else run.mutant.line, id=run.suffix)
    return float(match[0].fields["time"])


# ------------------------------------------------------------------- BNGL
def template_info(model: ModelEntry, nominal: dict[str, float], models: ModelAccess
                  ) -> ModelInfo:
    """A model as loaded; a BNGL template's ``X__FREE`` placeholders bound first.

    ``nominal`` holds the declared free parameters; the template binds those it
    uses (the others may be other models'). A BNGL model without placeholders
    and an SBML/Antimony model are loaded as they are.
    """
    path = model.path
    if path.suffix.lower() == ".bngl":
        text = _read_template(path)
        free = free_parameters(text)
        if free:
            path = bind_bngl(model.path, text, free, nominal, models=models)
    return models.info(path)


def _read_template(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as err:
        raise InputError(f"cannot read the model: {err}", file=str(path)) from None


def config_actions(config: PybnfConfig, model: str) -> tuple[Action, ...]:
    """The ``time_course`` / ``param_scan`` lines of a BNGL model as BNGL actions.

    PyBNF appends them to the template's own actions (``pybnf/config.py``
    ``_load_actions``; ``pybnf/pset.py`` ``BNGLModel.add_action``): every
    ``time_course`` line, then every ``param_scan`` line, each after a
    ``resetConcentrations()`` (the actions are independent): ``simulate`` from 0
    to ``time`` in ``round(time / step)`` steps (step 1 by default), and
    ``parameter_scan`` of ``round((max - min) / step) + 1`` points with
    ``log_scale`` set by ``logspace``. Each action keeps its configuration line.
    """
    out: list[Action] = []
    for kind in ("time_course", "param_scan"):
        for a in config.actions:
            if a.kind != kind or a.fields.get("model") not in (None, model):
                continue
            fl = a.fields
            time = float(fl["time"])
            args: dict[str, object] = {"method": a.method, "t_start": 0.0, "t_end": time,
                                       "suffix": a.suffix}
            if kind == "time_course":
                args["n_steps"] = float(max(1, round(time / float(fl.get("step", 1.0)))))
                verb = "simulate"
            else:
                lo, hi = float(fl["min"]), float(fl["max"])
                args.update(parameter=str(fl["param"]), par_min=lo, par_max=hi,
                            n_scan_pts=float(round((hi - lo) / float(fl["step"])) + 1),
                            log_scale=float(fl.get("logspace", 0.0)))
                verb = "parameter_scan"
            out += [Action("resetConcentrations", {}, a.line), Action(verb, args, a.line)]
    return tuple(out)


def _bngl_model(path: Path, nominal: dict[str, float], models: ModelAccess,
                extra: tuple[Action, ...] = ()) -> tuple[Path, tuple[Phase, ...],
                                                         tuple[str, ...]]:
    """Bind a legacy template's free parameters.

    Returns the bound copy, the protocol's phases (the actions bngfit replays,
    ``extra`` after the template's own) and the template's ``X__FREE`` names.
    """
    f = str(path)
    text = _read_template(path)
    free = free_parameters(text)
    filter_bngl(text, file=f, network_first=True)  # what cannot reach BNG2.pl, first
    actions = parse_actions(text, file=f) + extra
    phases = protocol(actions, file=f)
    out = bind_bngl(path, text, free, nominal, network_first=True, models=models)
    return out, phases, free


def bind_bngl(path: Path, text: str, free: tuple[str, ...] | list[str],
              nominal: dict[str, float], *, network_first: bool = False,
              models: ModelAccess | None = None) -> Path:
    """The template with its ``X__FREE`` parameters bound, filtered, in the cache.

    ``nominal`` holds the declared free parameters; those the template does not
    use are left out (another model may use them: the caller checks that some
    model does). The template is checked by :func:`bngfit.files._bngl_filter.filter_bngl`
    (messages name its own lines) and the bound text written is the filtered
    one, to bngfit's private cache (:mod:`bngfit.files._bngl_cache`). With
    ``network_first`` (a legacy template, whose actions are a protocol bngfit
    replays) the network is generated before the first action other than
    ``setOption`` when the template has no ``generate_network``. With
    ``models``, the network is generated now, so that BNG2.pl's messages name
    the template and its lines (loading the bound copy then finds it in the
    cache); without, whoever loads the bound copy generates it.

    Raises
    ------
    InputError
        A placeholder of the template that ``nominal`` does not declare; a
        statement the filter refuses.
    """
    f = str(path)
    filter_bngl(text, file=f, network_first=network_first)  # refusals name the template
    missing = [n for n in free if n not in nominal]
    if missing:
        raise InputError(f"the model uses '{missing[0]}', which the configuration does not "
                         "declare (add a uniform_var or loguniform_var line)", file=f,
                         id=missing[0])
    bound = bind_free_parameters(text, {n: nominal[n] for n in free}, file=f)
    filtered = filter_bngl(bound, file=f, network_first=network_first)
    after, shift = bound_line_shift(text, file=f)
    if models is not None:
        models.network(filtered, path, lambda n: n if n <= after else max(after, n - shift))
    return store_text(path.stem, filtered.text)
