"""The model atlas: a static site with every chosen unit's visualizations, dataset examples and activation distribution.

`atlas(...)` builds or extends one; `AtlasStore` is the folder itself, which the `atlas` job and the
live server both fill (`ensure_renders`, `ensure_examples`) and read (`unit`).
"""

from featurelens.atlas.build import AtlasPlan, atlas, plan_atlas
from featurelens.atlas.result import AtlasResult
from featurelens.atlas.settings import AtlasSettings
from featurelens.atlas.store import AtlasStore, BuildReport

__all__ = ["AtlasPlan", "AtlasResult", "AtlasSettings", "AtlasStore", "BuildReport", "atlas", "plan_atlas"]
