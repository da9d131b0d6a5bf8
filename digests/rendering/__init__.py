"""Rendering: a digest variant becomes subject, preheader, inlined HTML and plain text.

render (pure rendering) · inline (premailer, once per variant, cached) ·
personalise (a reader's links into a rendered variant) · checks (pre-send problems).
"""
