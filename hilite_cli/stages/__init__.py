"""Pure stage logic: no Typer, no printing. Each stage follows `stages.base.Stage`."""
