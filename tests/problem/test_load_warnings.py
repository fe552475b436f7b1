"""Load warnings: logged once by load_problem, not again by worker processes, pickled.

The warning is the misspelt key of ``helpers.conf_with_unknown_key``.
"""

from __future__ import annotations

import logging
import multiprocessing
import pickle

from bngfit import load_problem
from tests.helpers import conf_with_unknown_key


def test_load_problem_logs_each_warning_once(tmp_path, caplog):
    conf = conf_with_unknown_key(tmp_path)
    with caplog.at_level(logging.WARNING, logger="bngfit"):
        load_problem(conf)
        load_problem(conf)  # a fit re-reads its files: no second report
        load_problem(conf, log_warnings=False)
    hits = [r for r in caplog.records if "objfnc" in r.getMessage()]
    assert len(hits) == 1
    assert hits[0].levelno == logging.WARNING and hits[0].name.startswith("bngfit")
    assert "demo_xml.conf:12" in hits[0].getMessage()


def test_a_worker_process_does_not_log_them_again(tmp_path, caplog, monkeypatch):
    """Pool and Dask workers re-read the problem: their parent has reported it."""
    conf = conf_with_unknown_key(tmp_path)
    monkeypatch.setattr(multiprocessing, "parent_process", lambda: object())
    with caplog.at_level(logging.WARNING, logger="bngfit"):
        problem = load_problem(conf)
    assert problem.warnings and "objfnc" not in caplog.text
    with caplog.at_level(logging.WARNING, logger="bngfit"):
        load_problem(conf, log_warnings=True)
    assert "objfnc" in caplog.text


def test_quiet_load_logs_nothing(tmp_path, caplog):
    conf = conf_with_unknown_key(tmp_path)
    with caplog.at_level(logging.WARNING, logger="bngfit"):
        problem = load_problem(conf, log_warnings=False)
    assert problem.warnings and "objfnc" not in caplog.text


def test_warnings_pickle(tmp_path):
    """Warnings are plain frozen records (a fit stores them, workers may receive them)."""
    problem = load_problem(conf_with_unknown_key(tmp_path))
    again = pickle.loads(pickle.dumps(problem.warnings))
    assert again == problem.warnings and hash(again) == hash(problem.warnings)
