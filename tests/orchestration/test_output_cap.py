"""The per-cell stream cap keeps the first and last lines of what a notebook printed, whichever
way the kernel cut the stream into messages (a message may end inside a line)."""

import itertools

import pytest

from catalog_assets.orchestration.execution import OutputCap, _StreamCut

TEXT = "".join(f"line {i}\n" for i in range(10)) + "no newline at the end"
LINES = TEXT.splitlines(keepends=True)


def chunked(text: str, bounds: tuple[int, ...]) -> list[str]:
    edges = [0, *bounds, len(text)]
    return [text[a:b] for a, b in itertools.pairwise(edges)]


def cut(chunks: list[str], head: int, tail: int, size: int = 1_000_000) -> tuple[str, str]:
    stream = _StreamCut(OutputCap(head=head, tail=tail, bytes=size))
    kept = "".join(stream.take("stdout", chunk) for chunk in chunks)
    endings = dict(stream.endings())
    return kept, endings.get("stdout", "")


@pytest.mark.parametrize(
    "bounds",
    [(), (13,), (3, 9, 17), (7, 14, 21, 28), tuple(range(1, len(TEXT))), (len(TEXT) - 3,)],
    ids=["one message", "inside line 1", "inside lines 0-2", "at line ends", "per char", "end"],
)
def test_lines_split_across_messages_are_counted_once_and_kept_whole(bounds):
    kept, ending = cut(chunked(TEXT, bounds), head=3, tail=2)
    assert kept == "".join(LINES[:3])
    assert "[… 6 lines (42 bytes) of stdout cut by catalog_assets; the last 2 follow." in ending
    assert ending.endswith("line 9\nno newline at the end")


def test_a_line_that_never_ends_is_bounded_by_the_byte_budget():
    kept, ending = cut(["x" * 300] * 100, head=10, tail=2, size=1_000)
    assert kept == "x" * 1_000
    assert "[… 28.5 kB of a long line of stdout cut by catalog_assets; the last 1 follow." in ending
    assert ending.endswith("\n" + "x" * 500)  # the tail's share of the budget, per line


def test_short_output_is_left_alone():
    kept, ending = cut(chunked(TEXT, (5, 40)), head=20, tail=5)
    assert (kept, ending) == (TEXT, "")


def test_a_cap_that_would_keep_no_tail_is_refused():
    with pytest.raises(ValueError, match="tail >= 1"):
        OutputCap(head=10, tail=0)
