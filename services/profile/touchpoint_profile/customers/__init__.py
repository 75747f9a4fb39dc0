"""The customer view: API models, service functions (also used in-process by recommend), router."""
