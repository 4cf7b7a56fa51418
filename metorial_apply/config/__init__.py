"""YAML files → desired State: positions, interpolation, variables, references, catalog
resolution, the JSON Schema. Pure except reading files; imports only core."""
