"""The recognition pipeline behind `main.py`: sources, face detectors, tracking, the
read-ahead thread, classification, drawing and outputs."""
