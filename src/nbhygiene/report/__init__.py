"""``nbhygiene report``: a self-contained HTML page with each notebook's debt score and findings.

``score`` turns findings into scores (pure), ``excerpt`` cuts redacted cell source around findings,
``history`` scores notebooks at past git commits (read from git's object store, never checked out),
``html`` renders everything (every notebook-derived string escaped), ``cli`` wires the subcommand.
"""
