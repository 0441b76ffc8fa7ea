"""Reading FIT files: the container, the only fitparse door, and the frames a file becomes."""
