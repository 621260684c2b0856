"""The report room: a sweep's figures and one self-contained report.html (build), the probe's figure (probe)."""
