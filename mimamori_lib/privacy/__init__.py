"""Keeping personal data private: the keyed pseudonym (:mod:`.pseudonym`) and files written 600 in 700 folders,
atomically, with nothing left in temporary folders (:mod:`.restricted`). A base package."""
