"""The judgement shared by the stages from 25_ranking on: the indicator catalogue and each child's items
(:mod:`.indicators`), counts, groups and the list (:mod:`.scoring`), and the strata of the next tier
(:mod:`.strata`)."""
