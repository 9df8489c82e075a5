"""Hardware access for Korund: DAHDI spans, boards, I2C sensors, serial
front-panel display. Every /sys, /proc and /dev path goes through one
configurable root so recorded trees of real boards serve as test fixtures."""
