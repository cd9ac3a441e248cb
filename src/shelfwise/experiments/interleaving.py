"""Team-draft interleaving (Radlinski, Kurup and Joachims, CIKM 2008) and its preference test.

Two rankers' lists for one request are merged: in each round the team with fewer picks so far
(a fair coin when even) adds its highest-ranked item not yet in the merged list, and every
item remembers the team that placed it. A click credits that team; a list whose clicks credit
A more than B is a win for A, fewer a loss, equal (no clicks included) a tie. Over lists,
delta = (wins + ties / 2) / lists - 1/2 > 0 says A is preferred, and the two-sided sign test
(binomial, wins against losses at 1/2) says whether the preference is more than chance.
"""

from __future__ import annotations

import numpy as np
from scipy.stats import binomtest

A, B = 0, 1


def team_draft(a: list, b: list, n: int, rng: np.random.Generator) -> tuple[list, list[int]]:
    """(merged items, team of each (A = 0, B = 1)) of at most ``n`` items from lists ``a`` and
    ``b`` (best first); when one list runs out the other fills the rest."""
    merged, teams, placed = [], [], set()
    picks = [0, 0]
    ka = kb = 0
    while len(merged) < n:
        while ka < len(a) and a[ka] in placed:
            ka += 1
        while kb < len(b) and b[kb] in placed:
            kb += 1
        left_a, left_b = ka < len(a), kb < len(b)
        if not left_a and not left_b:
            break
        turn = A if picks[A] < picks[B] or (picks[A] == picks[B] and rng.random() < 0.5) else B
        if turn == A and not left_a:
            turn = B
        elif turn == B and not left_b:
            turn = A
        item = a[ka] if turn == A else b[kb]
        merged.append(item)
        teams.append(turn)
        placed.add(item)
        picks[turn] += 1
    return merged, teams


def outcome(teams, clicked) -> int:
    """+1 when a list's clicks credit team A more, -1 team B more, 0 a tie; ``teams`` and
    ``clicked`` (n,) per position."""
    teams, clicked = np.asarray(teams), np.asarray(clicked, dtype=bool)
    return int(np.sign(np.sum(clicked & (teams == A)) - np.sum(clicked & (teams == B))))


def preference(wins: int, losses: int, ties: int) -> dict:
    """{wins, losses, ties, delta, p_value}: delta > 0 prefers A; the sign test's p-value."""
    lists = wins + losses + ties
    delta = (wins + ties / 2) / lists - 0.5 if lists else None
    p = float(binomtest(wins, wins + losses, 0.5).pvalue) if wins + losses else None
    return {"wins": int(wins), "losses": int(losses), "ties": int(ties), "delta": delta, "p_value": p}
