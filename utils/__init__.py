"""Face DL Course: the shared package every notebook imports.

One small module per concern (see ``README.md``'s map): ``utils.config`` for paths,
``utils.seeding`` for seeds, ``utils.data`` for loaders, ``utils.plotting`` for figures, and so on.
"""

COURSE = "face-dl-course"
__version__ = "0.1.0"
