"""Writers: turning results into files (PNGs, contact sheets, JSON). Techniques never write files themselves."""
