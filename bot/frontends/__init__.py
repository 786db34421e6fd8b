"""Front ends: one package per chat platform, each turning platform events into core calls."""
