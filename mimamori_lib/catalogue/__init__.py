"""The facts every stage shares, each in one place: the data catalogue (:mod:`.datasets`: every file the pipeline
writes or reads), the source registry (:mod:`.registry`), the processed tables (:mod:`.tables`), what staff save back
(:mod:`.readback`), notices for the end of a run (:mod:`.notices`), ages and age bands (:mod:`.ages`) and the vocabulary
of the papers staff fill in (:mod:`.vocabulary`).

A base package: it imports only ``params``, ``text``, ``output`` and ``privacy``, never a stage.
"""
