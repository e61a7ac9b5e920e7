"""Client-agnostic decisions (no threads, sockets or clocks): flow control, liveness, tracking."""
