"""The wire contract as files: JSON Schema of each topic's key, headers and value, generated
from the pydantic models, an AsyncAPI 3.0 document, and the compatibility check (docs/contracts.md).
"""
