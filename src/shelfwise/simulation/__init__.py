"""The synthetic shop as an environment: simulated shoppers answer what a policy shows them.

- ``shoppers``: true tastes, position bias, satiation and the view / cart / purchase funnel;
- ``policies``: greedy, MMR and bandit-slot policies built from ``shelfwise.ranking``;
- ``environment``: simulated days, responses turned into events, refits on a schedule;
- ``metrics``: purchases, category entropy and catalogue coverage over time.
"""

from shelfwise.simulation.environment import EXPOSURE_COLUMNS, ShopEnvironment, Trajectory
from shelfwise.simulation.metrics import category_entropy, daily_metrics
from shelfwise.simulation.policies import BanditPolicy, GreedyPolicy, MMRPolicy, Policy, Slate
from shelfwise.simulation.shoppers import Responses, ShopperParams, Shoppers

__all__ = [
    "EXPOSURE_COLUMNS",
    "BanditPolicy",
    "GreedyPolicy",
    "MMRPolicy",
    "Policy",
    "Responses",
    "ShopEnvironment",
    "ShopperParams",
    "Shoppers",
    "Slate",
    "Trajectory",
    "category_entropy",
    "daily_metrics",
]
