"""The test guard that keeps tests off the demo lab's addresses (see sitecustomize.py)."""
