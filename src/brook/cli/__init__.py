"""The `brook` command line (click; rich only when drawing)."""
