"""The REST API's answers as msgspec Structs: each handler checks what it answers against
one of them (`answer`), and the OpenAPI document's response schemas are generated from the
same Structs."""
