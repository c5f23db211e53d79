"""mimamori: こども見守り analytical suite."""
