"""What a planner is for, read from its external_ref (`planners.external_ref`).

`sync:BRIN:YEAR:ROUND:GROUP` is the group's main conversation; `…:GROUP:opp` the extra
conversation about the support of pupils with an OPP; `…:GROUP:ib` the conversation with the IB
for pupils from the round's `ib_from_ondersteuningsniveau`. A pupil who arrived later has a
planner of their own with their PAS ids appended (`…:GROUP:P1-P2`, `…:GROUP:opp:P1`).
"""

from __future__ import annotations

SUPPORT_SUFFIXES = ("opp", "ib")


def is_support(external_ref: str) -> bool:
    """Whether the planner holds support conversations (OPP or IB) rather than the main one."""
    return external_ref.split(":")[5:6] in (["opp"], ["ib"])
