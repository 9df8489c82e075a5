"""The outbound policy: which numbers Korund may dial out to, and how many
callbacks one caller may order. Every number that leaves through a trunk
passes ``policy.check`` first; the settings are in ``store``."""
