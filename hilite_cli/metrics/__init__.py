"""Image-edit metrics: NHR's low-level check, SSIM, CLIP similarity, geometric mean.

Submodules import their heavy dependencies (cv2, skimage, torch) inside functions, so importing
this package stays cheap; import the submodule you need (`hilite_cli.metrics.lowlevel`, ...).
"""
