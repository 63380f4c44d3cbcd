"""The browser client script: the file and how it is served (`script.py`), the per-store
configuration it is served with (`conf.py`), the loader snippet that stores paste into their
pages (`snippet.py`) and the route that serves it (`routes.py`)."""
