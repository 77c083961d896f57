"""report.html: one self-contained page per run (a matrix or an experiment), plotly inlined."""
