"""A small demo shop served under /demo/ for the demo store.

Two variants show the two ways to integrate: `js` calls `connectif.managed.sendEvents` on
every page, `tags` renders Connectif's hidden HTML tags and lets the script read them. Both
are built from the same page model (`page_model.py`), so they send the same events. The shop
keeps its state (cart, customer, last order) in a cookie (`state.py`); everything read from
it is validated. The products are in `catalog.py`, the pages in `routes.py`.
"""
