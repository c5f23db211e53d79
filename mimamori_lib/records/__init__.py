"""The records a city keeps about the papers that leave the analysis: what each recipient may see
(:mod:`.sharing`)."""
