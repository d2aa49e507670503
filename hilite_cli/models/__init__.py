"""Image models: the registry (configs/models.toml), diffusers adapters, the T2I source generator.

Importing this package stays light: torch and diffusers load only inside `load_model`.
"""

from hilite_cli.models.base import Editor, ModelLoadError, ModelSpec, TextToImage
from hilite_cli.models.registry import call_kwargs, effective_params, get_spec, load_registry

__all__ = [
    "Editor",
    "ModelLoadError",
    "ModelSpec",
    "TextToImage",
    "call_kwargs",
    "effective_params",
    "get_spec",
    "load_registry",
]
