"""pybpf.info: the kernel's objects by id, and which of them a process holds."""

from __future__ import annotations

import os

import pytest

import pybpf
from pybpf import errors, info

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MINIMAL = os.path.join(REPO, "examples", "minimal", "minimal.bpf.c")


@pytest.mark.kernel
def test_held_ids_names_what_a_process_holds_by_kind():
    """A link held alone (its object closed) is in the process's links; its program,
    which only the link holds now, is not among the process's programs although the
    link's fdinfo names it."""
    me = os.getpid()
    with pybpf.load(MINIMAL) as obj:
        (link,) = obj.attach()
        prog_id = info.prog_info(obj.programs["handle_tp"].fileno()).id
        map_ids = {info.map_info(m.fileno()).id for m in obj.maps.values()}
        link_id = info.link_info(link.fileno()).id
        assert prog_id in info.held_ids(me, "prog")
        assert map_ids <= info.held_ids(me, "map")
        assert link_id in info.held_ids(me, "link")
        kept = os.dup(link.fileno())
    try:
        assert link_id in info.held_ids(me, "link")
        assert prog_id not in info.held_ids(me, "prog")
        assert map_ids.isdisjoint(info.held_ids(me, "map"))
    finally:
        os.close(kept)
    assert link_id not in info.held_ids(me, "link")


def test_held_ids_of_no_process_says_so():
    with pytest.raises(errors.NotFoundError, match="no process 999999999"):
        info.held_ids(999999999, "map")
