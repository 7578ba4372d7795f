"""The dependency graph of entries: order, cycles, downstream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from graphlib import CycleError, TopologicalSorter


def upstream_order(graph: Mapping[str, Iterable[str]]) -> list[str]:
    """Nodes so that every node comes after its inputs (``graph``: node -> its inputs)."""
    return list(TopologicalSorter({n: list(graph[n]) for n in sorted(graph)}).static_order())


def downstream(graph: Mapping[str, Iterable[str]], roots: Iterable[str]) -> set[str]:
    """Every node that takes one of ``roots`` as an input, directly or through others."""
    users: dict[str, set[str]] = {}
    for node, inputs in graph.items():
        for upstream in inputs:
            users.setdefault(upstream, set()).add(node)
    found: set[str] = set()
    frontier = list(roots)
    while frontier:
        for user in users.get(frontier.pop(), ()):
            if user not in found:
                found.add(user)
                frontier.append(user)
    return found


def upstream(graph: Mapping[str, Iterable[str]], roots: Iterable[str]) -> set[str]:
    """Every node that one of ``roots`` takes as input, directly or through others."""
    found: set[str] = set()
    frontier = list(roots)
    while frontier:
        for used in graph.get(frontier.pop(), ()):
            if used not in found:
                found.add(used)
                frontier.append(used)
    return found


def cycles(graph: Mapping[str, Iterable[str]]) -> list[list[str]]:
    """Every dependency cycle, each as its nodes in data-flow order (input before user)."""
    remaining = {node: list(inputs) for node, inputs in graph.items()}
    found: list[list[str]] = []
    while True:
        try:
            TopologicalSorter(remaining).prepare()
            return found
        except CycleError as error:
            cycle = error.args[1][:-1]  # each node is an input of the next; first == last
            found.append(cycle)
            remaining[cycle[1]].remove(cycle[0])  # break it and look for the next one
