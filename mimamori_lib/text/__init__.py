"""Japanese text as the departments deliver it: bytes to rows (:mod:`.reading`), normalisation for matching
(:mod:`.normalize`, :mod:`.japanese`) and the city's 外字 (:mod:`.gaiji`). A base package."""
