"""hilite: instruction-guided image editing and edit-dataset mining."""
__version__ = "0.1.0"
