"""Korund's call-center core: store, Asterisk config rendering, AGI and events.

No Flask and no hardware code lives here; the web panel (``web``) and the
hardware layer (``drivers``) sit on top of this package.
"""
