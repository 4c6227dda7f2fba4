"""Finding a concept: which units (and dictionary features) separate pictures of it from others, and its direction."""

from featurelens.concepts.find import FindPlan, FindSettings, find, plan_find
from featurelens.concepts.result import FindResult, UnitSeparation

__all__ = ["FindPlan", "FindResult", "FindSettings", "UnitSeparation", "find", "plan_find"]
