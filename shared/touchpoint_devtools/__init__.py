"""Development-only tooling, never installed into the service images.

devservers (a real broker and database for tests and `make run`), generator (`make demo`
traffic) and simulate (`make simulate`). The editable install (`make install`) puts it on
sys.path; the service wheel (`pip install .`, deploy/Dockerfile) leaves it out.
"""
