"""Vertex AI settings for google-genai: project, location and credentials from the standard variables.

`GOOGLE_GENAI_USE_VERTEXAI=true` switches the `gemini` provider (and `tune-judge --backend vertex`)
to Vertex AI; `GOOGLE_CLOUD_PROJECT` and `GOOGLE_CLOUD_LOCATION` name where, and the credentials are
Application Default Credentials (`GOOGLE_APPLICATION_CREDENTIALS`, or `gcloud auth application-default
login`). A tuned Gemini judge is then `--judge gemini:projects/P/locations/L/endpoints/E`. The SDK's
own `GOOGLE_VERTEX_BASE_URL` is honoured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from hilite_cli.providers.errors import ProviderConfigError

SCOPES = ("https://www.googleapis.com/auth/cloud-platform",)
TRUE = ("1", "true", "yes", "on")


def use_vertex() -> bool:
    """Whether GOOGLE_GENAI_USE_VERTEXAI asks for Vertex AI (the SDK reads the same variable)."""
    return os.environ.get("GOOGLE_GENAI_USE_VERTEXAI", "").strip().lower() in TRUE


@dataclass(frozen=True)
class VertexSettings:
    project: str
    location: str
    credentials: Any

    def client_args(self) -> dict[str, Any]:
        return {"vertexai": True, "project": self.project, "location": self.location, "credentials": self.credentials}


def vertex_settings() -> VertexSettings:
    """Project, location and credentials, or a ProviderConfigError naming the one variable that is missing."""
    values = {}
    for name in ("GOOGLE_CLOUD_PROJECT", "GOOGLE_CLOUD_LOCATION"):
        values[name] = os.environ.get(name, "").strip()
        if not values[name]:
            raise ProviderConfigError(f"Vertex AI needs {name}: set it in the environment")
    import google.auth
    from google.auth.exceptions import DefaultCredentialsError

    try:
        credentials, _ = google.auth.default(scopes=list(SCOPES))
    except DefaultCredentialsError:
        raise ProviderConfigError(
            "no Google Cloud credentials for Vertex AI: set GOOGLE_APPLICATION_CREDENTIALS to a service-account "
            "key file, or run `gcloud auth application-default login`"
        ) from None
    return VertexSettings(values["GOOGLE_CLOUD_PROJECT"], values["GOOGLE_CLOUD_LOCATION"], credentials)
