"""Start-up's objects are frozen once, out of the cyclic collector's full passes (W2-6), after the
garbage already there is collected (frozen garbage would never be freed)."""

from __future__ import annotations

import gc
import weakref

from connector.runtime import freeze_start_up


class Node:
    """An object in a reference cycle: only the cyclic collector frees it."""

    def __init__(self) -> None:
        self.me = self


def test_start_up_is_frozen_once_after_its_garbage_is_collected():
    gc.unfreeze()  # whatever an earlier test's engine froze
    garbage = Node()
    gone = weakref.ref(garbage)
    del garbage
    freeze_start_up()
    assert gone() is None and gc.get_freeze_count() > 0
    later = Node()  # made after start-up: a second call freezes nothing more
    freeze_start_up()
    assert any(o is later for o in gc.get_objects())  # the frozen are not listed
