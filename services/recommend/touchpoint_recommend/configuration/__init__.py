"""The live config: loaded from YAML, swapped atomically on reload, watched for changes."""
