"""Every bad input of ``tests/bad_input_cases.py`` (258 calls across the Python API, the
file readers, save/load and the command line) ends as it must: the stated ntkmixed
exception, with a message that names the argument and, where they matter, the value, the
file, the line or the IDs — or the documented behaviour (a warning, an unchanged
estimate). ``python tests/bad_input_cases.py`` prints the same cases classified."""

from __future__ import annotations

import pytest

from ntkmixed import exceptions
from bad_input_cases import CASES, CommandFailed, World

#: what no message may contain: internal exception text, or an invitation to unpickle
FORBIDDEN = ("allow_pickle", "pickle.load", "Traceback", "NTKMIXED_DEBUG")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    return World(tmp_path_factory.mktemp("bad_input"))


def test_there_are_at_least_60_distinct_bad_inputs():
    names = [(c.area, c.name) for c in CASES]
    assert len(set(names)) == len(names)
    assert sum(c.error is not None for c in CASES) >= 60


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c.area}: {c.name}")
def test_bad_input(case, world):
    if case.error is None:
        _, caught = case.run(world)
        if case.warns:
            issued = {type(w.message).__name__ for w in caught}
            assert case.warns in issued, f"expected a {case.warns}; got {sorted(issued)}"
        return
    expected = CommandFailed if case.error == "CommandFailed" else getattr(exceptions, case.error)
    with pytest.raises(expected) as info:
        case.run(world)
    message = str(info.value)
    lacking = [m for m in case.mentions if m.lower() not in message.lower()]
    assert not lacking, f"the message lacks {lacking}: {message}"
    assert not any(f in message for f in FORBIDDEN), message
