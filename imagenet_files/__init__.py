"""The ImageNet file formats: the official Downsampled ImageNet files, the ILSVRC devkit's
label order, and the dataset folder layouts; and the two sides of a trained classifier both
read: a picture prepared as its input, and the exported classifier file.

Its own package, with neither torch nor Flask in it, because both the survey (pictures) and the
trainer (training data) read these files and neither may import the other.
"""
