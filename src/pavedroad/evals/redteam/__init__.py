"""Red-team packs: attacks generated from templates, run through a gateway, judged per category.

See docs/adr/0018-red-team-and-online-eval.md.
"""

from pavedroad.evals.redteam.catalog import ATTACKS, CATEGORIES
from pavedroad.evals.redteam.criteria import BlockedScorer, PassedScorer, Verdict, judge
from pavedroad.evals.redteam.packs import PACKS, generate_pack
from pavedroad.evals.redteam.report import CategoryStats, RedTeamSummary, summarise
from pavedroad.evals.redteam.run import RedTeamRun, run_pack

__all__ = [
    "ATTACKS",
    "CATEGORIES",
    "PACKS",
    "BlockedScorer",
    "CategoryStats",
    "PassedScorer",
    "RedTeamRun",
    "RedTeamSummary",
    "Verdict",
    "generate_pack",
    "judge",
    "run_pack",
    "summarise",
]
