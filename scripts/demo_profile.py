"""Print the chosen `configs/demo.toml` profile as shell assignments for scripts/demo.sh."""

from __future__ import annotations

import os
import shlex

from hilite_cli.config import load_config


def main() -> None:
    settings = load_config("demo")
    name = os.environ.get("HILITE_DEMO_PROFILE") or settings["demo"]["profile"]
    if name == "auto":
        name = "real" if os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY") else "offline"
    profile = settings["profiles"][name]
    print(f"PROFILE={shlex.quote(name)}")
    print(f"IMAGE_SIZE={int(settings['demo']['image_size'])}")
    for key, value in profile.items():
        print(f"{key.upper()}={shlex.quote(str(value))}")


if __name__ == "__main__":
    main()
