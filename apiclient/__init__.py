"""The Python client of the CPS1 Workspace API, shared by the console and the `cps1` CLI:
one method per operation, path segments quoted, every failure one typed `ApiError` with the
API's message and its field details. HTTP only (requests): no Streamlit, no Kubernetes."""
