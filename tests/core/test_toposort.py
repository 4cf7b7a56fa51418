"""The numbered topological sorter behaves as graphlib's does, cycles included."""

from __future__ import annotations

from graphlib import CycleError, TopologicalSorter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from metorial_apply.core.model import Address
from metorial_apply.core.toposort import NumberedSorter


def test_dependencies_come_first_and_a_cycle_names_its_nodes() -> None:
    a, b, c = (Address(kind="config", name=n) for n in "abc")
    assert NumberedSorter({a: [b], b: [c], c: []}).static_order() == [c, b, a]
    with pytest.raises(CycleError) as caught:
        NumberedSorter({a: [b], b: [a]}).prepare()
    assert set(caught.value.args[1]) == {a, b}


@given(st.dictionaries(st.integers(0, 30), st.lists(st.integers(0, 30), max_size=4), max_size=30))
def test_the_same_order_as_graphlib_on_acyclic_graphs(graph: dict[int, list[int]]) -> None:
    acyclic = {node: [p for p in preds if p < node] for node, preds in graph.items()}
    named = {f"n{k}": [f"n{p}" for p in v] for k, v in acyclic.items()}
    assert NumberedSorter(named).static_order() == list(TopologicalSorter(named).static_order())


def test_ready_and_done_step_through_the_graph() -> None:
    sorter: NumberedSorter[str] = NumberedSorter()
    sorter.add("b", "a")
    sorter.prepare()
    assert sorter.get_ready() == ("a",)
    sorter.done("a")
    assert sorter.get_ready() == ("b",)
