"""The actor runtime: definitions, instances, activation, durability. Private."""
