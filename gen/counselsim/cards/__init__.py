"""Client role-card pools: loading, importing, building, statistics, splits."""
