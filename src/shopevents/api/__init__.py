"""The REST API (Connectif-shaped), authenticated with `Authorization: apiKey {keyId}:{keySecret}`."""
